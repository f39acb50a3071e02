/*
 * The JSON writer: structure and commas, RFC 8259 escaping, UTF-8 repair,
 * round-trip numbers, misuse detection. The strict parse of whole outputs
 * is done by Python's json module in the integration tests.
 */
#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "test.h"

/* One value written alone; returns its text (static buffer) or "(failed)". */
static const char *
one_string(const char *s, size_t n)
{
	static char out[256];
	struct json j;

	json_init(&j);
	json_string_len(&j, s, n);
	snprintf(out, sizeof(out), "%s", json_text(&j) ? json_text(&j) : "(failed)");
	json_free(&j);
	return out;
}

static const char *
one_number(double v)
{
	static char out[64];
	struct json j;

	json_init(&j);
	json_number(&j, v);
	snprintf(out, sizeof(out), "%s", json_text(&j) ? json_text(&j) : "(failed)");
	json_free(&j);
	return out;
}

static void
test_structure(void)
{
	struct json j;

	json_init(&j);
	json_object_begin(&j);
	json_key(&j, "state");
	json_string(&j, "running");
	json_key(&j, "batch");
	json_int(&j, 42);
	json_key(&j, "steps");
	json_array_begin(&j);
	json_int(&j, 1);
	json_object_begin(&j);
	json_key(&j, "ok");
	json_bool(&j, 1);
	json_key(&j, "none");
	json_string(&j, NULL);
	json_object_end(&j);
	json_array_begin(&j);
	json_array_end(&j);
	json_array_end(&j);
	json_key(&j, "empty");
	json_object_begin(&j);
	json_object_end(&j);
	json_object_end(&j);
	TEST_STR("nesting and commas", json_text(&j),
	    "{\"state\":\"running\",\"batch\":42,\"steps\":[1,{\"ok\":true,\"none\":null},[]],"
	    "\"empty\":{}}");
	json_reset(&j);
	json_array_begin(&j);
	json_array_end(&j);
	TEST_STR("reset: the next line", json_text(&j), "[]");
	json_free(&j);
}

static void
test_misuse(void)
{
	struct json j;

	json_init(&j);
	json_object_begin(&j);
	json_string(&j, "value without a key");
	TEST_CHECK("a value where a key is due fails", json_text(&j) == NULL, "accepted");
	json_free(&j);

	json_init(&j);
	json_array_begin(&j);
	json_key(&j, "k");
	TEST_CHECK("a key in an array fails", json_text(&j) == NULL, "accepted");
	json_free(&j);

	json_init(&j);
	json_array_begin(&j);
	json_object_end(&j);
	TEST_CHECK("a mismatched end fails", json_text(&j) == NULL, "accepted");
	json_free(&j);

	json_init(&j);
	json_int(&j, 1);
	json_int(&j, 2);
	TEST_CHECK("two top-level values fail", json_text(&j) == NULL, "accepted");
	json_free(&j);

	json_init(&j);
	json_object_begin(&j);
	json_key(&j, "k");
	json_object_end(&j);
	TEST_CHECK("a key without its value fails", json_text(&j) == NULL, "accepted");
	json_free(&j);

	json_init(&j);
	for (int i = 0; i <= JSON_MAX_DEPTH; i++)
		json_array_begin(&j);
	TEST_CHECK("nesting past JSON_MAX_DEPTH fails", json_text(&j) == NULL, "accepted");
	json_free(&j);
}

static void
test_escaping(void)
{
	TEST_STR("quote and backslash", one_string("a\"b\\c", 5), "\"a\\\"b\\\\c\"");
	TEST_STR("short escapes", one_string("\n\t\r\b\f", 5), "\"\\n\\t\\r\\b\\f\"");
	TEST_STR("control characters as \\u00XX", one_string("\x01\x1f", 2),
	    "\"\\u0001\\u001f\"");
	TEST_STR("NUL inside a string", one_string("a\0b", 3), "\"a\\u0000b\"");
	TEST_STR("DEL passes (not a control character in JSON)", one_string("\x7f", 1),
	    "\"\x7f\"");
	TEST_STR("valid UTF-8 passes", one_string("Zo\xc3\xab \xe2\x80\x94 \xf0\x9f\xa7\xaa", 13),
	    "\"Zo\xc3\xab \xe2\x80\x94 \xf0\x9f\xa7\xaa\"");
	TEST_STR("a lone continuation byte is replaced", one_string("a\x80z", 3),
	    "\"a\xef\xbf\xbdz\"");
	TEST_STR("an overlong '/' is replaced", one_string("\xc0\xaf", 2),
	    "\"\xef\xbf\xbd\xef\xbf\xbd\"");
	TEST_STR("an overlong 3-byte form is replaced", one_string("\xe0\x80\xaf", 3),
	    "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
	TEST_STR("a surrogate is replaced", one_string("\xed\xa0\x80", 3),
	    "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
	TEST_STR("past U+10FFFF is replaced", one_string("\xf4\x90\x80\x80", 4),
	    "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
	TEST_STR("a sequence cut at the end is replaced", one_string("ab\xe2\x80", 4),
	    "\"ab\xef\xbf\xbd\xef\xbf\xbd\"");
	{
		struct json j;

		json_init(&j);
		json_object_begin(&j);
		json_key(&j, "we\"ird\n");
		json_int(&j, 1);
		json_object_end(&j);
		TEST_STR("keys are escaped too", json_text(&j), "{\"we\\\"ird\\n\":1}");
		json_free(&j);
	}
}

static void
test_numbers(void)
{
	static const double round[] = { 0.1, 1.0 / 3, 1234.5678, 39.000000000000007, 1e-300,
		DBL_MAX, -DBL_MIN, 123456789012.25, 5e-324 };
	size_t i;

	TEST_STR("an integer-valued double", one_number(39), "39");
	TEST_STR("the shortest form", one_number(0.1), "0.1");
	TEST_STR("precision above 1000 nm kept", one_number(1234.5678), "1234.5678");
	TEST_STR("NaN is null", one_number(NAN), "null");
	TEST_STR("+inf is null", one_number(INFINITY), "null");
	TEST_STR("-inf is null", one_number(-INFINITY), "null");
	for (i = 0; i < sizeof(round) / sizeof(round[0]); i++) {
		const char *t = one_number(round[i]);
		char name[64];
		snprintf(name, sizeof(name), "round trip of %.17g", round[i]);
		TEST_CHECK(name, strtod(t, NULL) == round[i], "wrote %s", t);
	}
	{
		struct json j;

		json_init(&j);
		json_int(&j, -9223372036854775807LL - 1);
		TEST_STR("the smallest integer", json_text(&j), "-9223372036854775808");
		json_free(&j);
	}
}

/*
 * A document handed out in pieces (json_clear, as export streams years of
 * batches): the pieces joined are the document, commas included at every
 * boundary, and the nesting stays checked across them.
 */
static void
test_pieces(void)
{
	char doc[256] = "";
	struct json j;
	int i;

	json_init(&j);
	json_array_begin(&j);
	strcat(doc, json_text(&j));
	json_clear(&j);
	TEST_STR("clear: the text is empty", json_text(&j), "");
	for (i = 1; i <= 3; i++) {
		json_object_begin(&j);
		json_key(&j, "n");
		json_int(&j, i);
		json_key(&j, "rows");
		json_array_begin(&j);
		strcat(doc, json_text(&j));
		json_clear(&j);
		json_int(&j, 10 * i);
		strcat(doc, json_text(&j));
		json_clear(&j);
		json_int(&j, 10 * i + 1);
		json_array_end(&j);
		json_object_end(&j);
		strcat(doc, json_text(&j));
		json_clear(&j);
	}
	json_array_end(&j);
	strcat(doc, json_text(&j));
	TEST_STR("pieces joined are the document", doc,
	    "[{\"n\":1,\"rows\":[10,11]},{\"n\":2,\"rows\":[20,21]},"
	    "{\"n\":3,\"rows\":[30,31]}]");
	json_clear(&j);
	json_object_end(&j);
	TEST_CHECK("clear keeps the nesting: a stray end is a misuse", json_text(&j) == NULL,
	    "the writer did not fail");
	json_free(&j);
}

int
main(void)
{
	test_structure();
	test_pieces();
	test_misuse();
	test_escaping();
	test_numbers();
	return TEST_DONE();
}
