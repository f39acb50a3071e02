/*
 * SHA-256 (FIPS 180-4). Recipes and rig files are stored verbatim and
 * identified by the hash of their exact bytes.
 */
#ifndef LBL_SHA256_H
#define LBL_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_LEN	32
#define SHA256_HEX_LEN		64	/* without the terminating NUL */

struct sha256 {
	uint32_t state[8];
	uint64_t length_bytes;		/* message bytes absorbed so far */
	uint8_t block[64];
	size_t block_used;
};

/* Incremental interface: init, update any number of times, final once. */
void sha256_init(struct sha256 *ctx);
void sha256_update(struct sha256 *ctx, const void *data, size_t len);
void sha256_final(struct sha256 *ctx, uint8_t digest[SHA256_DIGEST_LEN]);

/* Writes the lowercase hex digest of data[0..len) and a NUL into out. */
void sha256_hex(const void *data, size_t len, char out[SHA256_HEX_LEN + 1]);

#endif
