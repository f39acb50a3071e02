/* SHA-256 against the FIPS 180-4 example vectors, one-shot and incremental. */
#include <stdlib.h>

#include "sha256.h"
#include "test.h"

static void
hex(const uint8_t d[SHA256_DIGEST_LEN], char out[SHA256_HEX_LEN + 1])
{
	int i;

	for (i = 0; i < SHA256_DIGEST_LEN; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

int
main(void)
{
	static const char abc_sha[] =
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
	static const char two_block[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	static const char two_block_sha[] =
	    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
	static const char million_a_sha[] =
	    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
	static const char empty_sha[] =
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
	char out[SHA256_HEX_LEN + 1], text56[56], *million;
	uint8_t digest[SHA256_DIGEST_LEN];
	struct sha256 ctx;
	size_t i;

	sha256_hex("abc", 3, out);
	TEST_STR("sha256 'abc' (FIPS 180-4 one block)", out, abc_sha);
	sha256_hex(two_block, strlen(two_block), out);
	TEST_STR("sha256 448-bit message (two blocks)", out, two_block_sha);
	sha256_hex("", 0, out);
	TEST_STR("sha256 empty message", out, empty_sha);

	million = malloc(1000000);
	if (million == NULL)
		return 1;
	memset(million, 'a', 1000000);
	sha256_hex(million, 1000000, out);
	TEST_STR("sha256 one million 'a'", out, million_a_sha);
	/* incremental, in odd pieces that straddle block boundaries */
	sha256_init(&ctx);
	for (i = 0; i < 1000000; i += 997)
		sha256_update(&ctx, million + i, 1000000 - i < 997 ? 1000000 - i : 997);
	sha256_final(&ctx, digest);
	hex(digest, out);
	TEST_STR("sha256 one million 'a' in 997-byte pieces", out, million_a_sha);
	free(million);

	/* lengths around the padding boundary (55, 56, 64 bytes) agree piecewise */
	for (i = 54; i <= 65; i++) {
		char text[80], one[SHA256_HEX_LEN + 1];
		size_t j;

		memset(text, 'x', i);
		sha256_hex(text, i, one);
		sha256_init(&ctx);
		for (j = 0; j < i; j++)
			sha256_update(&ctx, text + j, 1);
		sha256_final(&ctx, digest);
		hex(digest, out);
		TEST_CHECK("sha256 byte-at-a-time matches one-shot near the padding boundary",
		    strcmp(out, one) == 0, "length %zu: %s vs %s", i, out, one);
	}
	/* and against digests from sha256sum, so the boundary is not only self-consistent */
	memset(text56, 'x', sizeof(text56));
	sha256_hex(text56, 55, out);
	TEST_STR("sha256 55 'x' (one block, padding fits)", out,
	    "d5e285683cd4efc02d021a5c62014694958901005d6f71e89e0989fac77e4072");
	sha256_hex(text56, 56, out);
	TEST_STR("sha256 56 'x' (padding spills into a second block)", out,
	    "04c26261370ee7541549d16dee320c723e3fd14671e66a099afe0a377c16888e");
	return TEST_DONE();
}
