/*
 * Bounded text (base/text.c): a text that fits is whole; one that does not
 * is cut at a UTF-8 character boundary, never inside a character, and ends
 * with "…", for one-byte, two-, three- and four-byte characters at every
 * position of the cut. Display width: columns of UTF-8 text as a terminal
 * shows it (one for "ë" and "–", none for a combining accent, two for a
 * CJK character or an emoji, one for each invalid byte), and the padding
 * that lines up table cells by it; plurals.
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

	/* display width */
	TEST_EQ_INT("width: ASCII", text_width("Zoe"), 3);
	TEST_EQ_INT("width: Zo\xc3\xab (precomposed) is 3 columns", text_width("Zo\xc3\xab"), 3);
	TEST_EQ_INT("width: Zoe + combining diaeresis is 3 columns", text_width("Zoe\xcc\x88"), 3);
	TEST_EQ_INT("width: Ni\xe2\x80\x93PET (en dash) is 6 columns",
	    text_width("Ni\xe2\x80\x93PET"), 6);
	TEST_EQ_INT("width: CJK characters are 2 columns each", text_width("\xe6\x97\xa5\xe6\x9c\xac"),
	    4);
	TEST_EQ_INT("width: an emoji is 2 columns", text_width("\xf0\x9f\x98\x80"), 2);
	TEST_EQ_INT("width: a zero-width space is none", text_width("a\xe2\x80\x8b" "b"), 2);
	TEST_EQ_INT("width: invalid bytes are a column each", text_width("a\xff\xc3"), 3);
	TEST_EQ_INT("width: an overlong encoding is invalid bytes", text_width("\xc0\xaf"), 2);
	TEST_EQ_INT("width: a surrogate is invalid bytes", text_width("\xed\xa0\x80"), 3);
	TEST_EQ_INT("width: empty", text_width(""), 0);
	TEST_EQ_INT("pad: Zo\xc3\xab to 10 needs 7 spaces", text_pad("Zo\xc3\xab", 10), 7);
	TEST_EQ_INT("pad: wider than the column needs none", text_pad("abcdefghijkl", 10), 0);
	{
		/* two rows padded with text_pad line up: the next cell starts at the same column */
		char a[64], b[64];
		snprintf(a, sizeof(a), "%s%*s|", "Zo\xc3\xab", text_pad("Zo\xc3\xab", 8), "");
		snprintf(b, sizeof(b), "%s%*s|", "alice", text_pad("alice", 8), "");
		TEST_EQ_INT("pad: cells of Zo\xc3\xab and alice end in the same column",
		    text_width(a), text_width(b));
	}
	TEST_STR("plural: 1 bus", text_plural(1, "bus", "buses"), "bus");
	TEST_STR("plural: 0 buses", text_plural(0, "bus", "buses"), "buses");
	TEST_STR("plural: 2 dips", text_plural(2, "dip", "dips"), "dips");
	return TEST_DONE();
}
