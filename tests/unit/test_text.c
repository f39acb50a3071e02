/*
 * Bounded text (base/text.c): a text that fits is whole; one that does not
 * is cut at a UTF-8 character boundary, never inside a character, and ends
 * with "…", for one-byte, two-, three- and four-byte characters at every
 * position of the cut.
 */
#include <stdio.h>
#include <string.h>

#include "test.h"
#include "text.h"

int
main(void)
{
	static const char *const chars[] = { "a", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80" };
	char buf[64], text[256], label[160];
	size_t c, size;
	int rc, bad;

	rc = text_format(buf, sizeof(buf), "%s: %d", "fits", 42);
	TEST_CHECK("a text that fits is whole", rc == 0 && strcmp(buf, "fits: 42") == 0,
	    "%d '%s'", rc, buf);
	rc = text_format(buf, 16, "%s", "exactly fifteen");
	TEST_CHECK("fifteen bytes in sixteen: whole", rc == 0 &&
	    strcmp(buf, "exactly fifteen") == 0, "%d '%s'", rc, buf);
	rc = text_format(buf, 16, "%s", "exactly sixteen!");
	TEST_CHECK("sixteen bytes in sixteen: cut and marked", rc == 1 &&
	    strcmp(buf, "exactly sixt" TEXT_CUT_MARK) == 0, "%d '%s'", rc, buf);

	for (c = 0; c < sizeof(chars) / sizeof(chars[0]); c++) {
		text[0] = '\0';
		while (strlen(text) + strlen(chars[c]) < sizeof(text))
			strcat(text, chars[c]);
		bad = 0;
		for (size = TEXT_CUT_MARK_BYTES + 1; size <= sizeof(buf); size++) {
			size_t keep;
			rc = text_format(buf, size, "%s", text);
			keep = strlen(buf) - TEXT_CUT_MARK_BYTES;
			if (rc != 1 || !test_valid_utf8(buf) || strlen(buf) >= size ||
			    strcmp(buf + keep, TEXT_CUT_MARK) != 0 ||
			    strncmp(buf, text, keep) != 0 || keep % strlen(chars[c]) != 0 ||
			    keep + strlen(chars[c]) + TEXT_CUT_MARK_BYTES < size) {
				if (bad++ == 0)
					printf("info: %zu-byte characters in %zu bytes: %d '%s'\n",
					    strlen(chars[c]), size, rc, buf);
			}
		}
		snprintf(label, sizeof(label), "%zu-byte characters: cut at a character boundary, "
		    "as much as fits, marked, at every size", strlen(chars[c]));
		TEST_EQ_INT(label, bad, 0);
	}
	TEST_EQ_INT("boundary: a whole text is its length", text_boundary("ab\xc3\xa9", 10), 4);
	TEST_EQ_INT("boundary: not inside a character", text_boundary("ab\xc3\xa9", 3), 2);
	TEST_EQ_INT("boundary: before a character that starts there",
	    text_boundary("ab\xc3\xa9", 2), 2);
	rc = text_format(buf, 3, "%s", "long");
	TEST_CHECK("too small for the mark: empty, said cut", rc == 1 && buf[0] == '\0', "%d '%s'",
	    rc, buf);
	return TEST_DONE();
}
