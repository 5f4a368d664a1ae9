/*
 * test_identity: Ed25519 identity key files, fingerprints, signatures and
 * the agent's pinned coordinator key.
 */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <sodium.h>
#include <stdarg.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "identity.h"

struct fixture {
	char dir[64];
	char key[128];
	char pin[128];
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	strcpy(f->dir, "/var/tmp/test_identity.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_true(xsnprintf(f->key, sizeof(f->key), "%s/identity.key", f->dir) > 0);
	assert_true(xsnprintf(f->pin, sizeof(f->pin), "%s/coordinator.pub", f->dir) > 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	_cleanup_close_ int dfd = open("/var/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	assert_true(dfd >= 0);
	assert_int_equal(rm_rf_at(dfd, f->dir + strlen("/var/tmp/")), 0);
	free(f);
	return 0;
}

static void
write_text(const char *path, const char *text, mode_t mode)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	assert_true(fd >= 0);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
}

/* Loading path fails with r and a message containing needle; the file is
 * left as it was. */
static void
assert_load_refused(const char *path, int r, const char *needle)
{
	_cleanup_free_ char *before = NULL, *after = NULL;
	struct identity id;
	struct rw_err err = {{0}};
	bool created = true;

	assert_int_equal(read_full_file(path, 4096, true, &before, NULL), 0);
	assert_int_equal(identity_load_or_create(path, &id, &created, &err), r);
	if (!strstr(err.msg, needle))
		fail_msg("message '%s' does not contain '%s'", err.msg, needle);
	assert_non_null(strstr(err.msg, path));
	assert_int_equal(read_full_file(path, 4096, true, &after, NULL), 0);
	assert_string_equal(before, after);
}

static size_t
count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void
test_identity_create_then_load_gives_same_key(void **state)
{
	struct fixture *f = *state;
	struct identity a, b;
	struct rw_err err = {{0}};
	bool created = false;
	uint8_t expect_pk[32], expect_sk[64], seed[32];
	_cleanup_free_ char *text = NULL;
	size_t seed_len = 0;
	const char *b64;

	assert_int_equal(identity_load_or_create(f->key, &a, &created, &err), 0);
	assert_true(created);
	assert_int_equal(identity_load_or_create(f->key, &b, &created, &err), 0);
	assert_false(created);
	assert_memory_equal(a.pk, b.pk, sizeof(a.pk));
	assert_memory_equal(a.sk, b.sk, sizeof(a.sk));

	/* The documented format: the header, then base64 of the seed that the
	 * key pair derives from. */
	assert_int_equal(read_full_file(f->key, 4096, false, &text, NULL), 0);
	assert_int_equal(strncmp(text, "rollwave identity v1\n", 21), 0);
	b64 = text + 21;
	assert_int_equal(sodium_base642bin(seed, sizeof(seed), b64, strcspn(b64, "\n"), NULL,
	                         &seed_len, NULL, sodium_base64_VARIANT_ORIGINAL),
	        0);
	assert_int_equal(seed_len, 32);
	assert_string_equal(b64 + strcspn(b64, "\n"), "\n");
	assert_int_equal(crypto_sign_seed_keypair(expect_pk, expect_sk, seed), 0);
	assert_memory_equal(a.pk, expect_pk, 32);
	assert_memory_equal(a.sk, expect_sk, 64);

	/* No temp file is left behind. */
	assert_int_equal(count_entries(f->dir), 1);
	identity_done(&a);
	identity_done(&b);
	for (size_t i = 0; i < sizeof(a); i++)
		assert_int_equal(((uint8_t *)&a)[i], 0);
}

static void
test_identity_two_new_keys_differ(void **state)
{
	struct fixture *f = *state;
	char other[160];
	struct identity a, b;
	struct rw_err err = {{0}};

	assert_true(xsnprintf(other, sizeof(other), "%s/other.key", f->dir) > 0);
	assert_int_equal(identity_load_or_create(f->key, &a, NULL, &err), 0);
	assert_int_equal(identity_load_or_create(other, &b, NULL, &err), 0);
	assert_memory_not_equal(a.pk, b.pk, sizeof(a.pk));
}

static void
test_identity_key_file_has_mode_0600(void **state)
{
	struct fixture *f = *state;
	struct identity id;
	struct rw_err err = {{0}};
	struct stat st;
	mode_t old = umask(0);

	/* Even with a permissive umask. */
	assert_int_equal(identity_load_or_create(f->key, &id, NULL, &err), 0);
	umask(old);
	assert_int_equal(lstat(f->key, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_uid, geteuid());
}

static void
test_identity_group_readable_key_file_is_refused(void **state)
{
	struct fixture *f = *state;
	struct identity id;
	struct rw_err err = {{0}};

	assert_int_equal(identity_load_or_create(f->key, &id, NULL, &err), 0);
	assert_int_equal(chmod(f->key, 0640), 0);
	assert_load_refused(f->key, -EPERM, "mode 0640");
	assert_load_refused(f->key, -EPERM, "must not be readable or writable by group or others");
	assert_int_equal(chmod(f->key, 0604), 0);
	assert_load_refused(f->key, -EPERM, "chmod 600");
	assert_int_equal(chmod(f->key, 0600), 0);
	assert_int_equal(identity_load_or_create(f->key, &id, NULL, &err), 0);
}

static void
test_identity_key_file_of_another_user_is_refused(void **state)
{
	struct fixture *f = *state;
	struct identity id;
	struct rw_err err = {{0}};

	if (geteuid() != 0)
		skip(); /* only root can give a file away */
	assert_int_equal(identity_load_or_create(f->key, &id, NULL, &err), 0);
	assert_int_equal(chown(f->key, 65534, 65534), 0);
	assert_load_refused(f->key, -EPERM, "owned by uid 65534");
}

static void
test_identity_corrupt_key_file_is_refused(void **state)
{
	struct fixture *f = *state;
	char b64[128], text[256];
	uint8_t bytes[48];
	static const struct {
		const char *text;
		const char *needle;
	} cases[] = {
	        {"", "does not start with the line 'rollwave identity v1'"},
	        {"rollwave identity v2\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
	                "does not start with the line"},
	        {"-----BEGIN PRIVATE KEY-----\n", "does not start with the line"},
	        {"rollwave identity v1\n", "no key on line 2"},
	        {"rollwave identity v1\n\n", "no key on line 2"},
	        {"rollwave identity v1\nAAAA*AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
	                "not valid base64"},
	        {"rollwave identity v1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
	                "not valid base64"}, /* padding missing */
	        {"rollwave identity v1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= \n",
	                "not valid base64"},
	        {"rollwave identity v1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\nextra\n",
	                "unexpected content after line 2"},
	        {"rollwave identity v1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\n",
	                "the key is 31 bytes long, expected 32"},
	        {"rollwave identity v1\nAAAA\n", "the key is 3 bytes long, expected 32"},
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		write_text(f->key, cases[i].text, 0600);
		assert_load_refused(f->key, -EBADMSG, cases[i].needle);
	}

	/* 48 bytes of well-formed base64: a wrong length, not a truncation. */
	memset(bytes, 7, sizeof(bytes));
	sodium_bin2base64(b64, sizeof(b64), bytes, sizeof(bytes), sodium_base64_VARIANT_ORIGINAL);
	assert_true(xsnprintf(text, sizeof(text), "rollwave identity v1\n%s\n", b64) > 0);
	write_text(f->key, text, 0600);
	assert_load_refused(f->key, -EBADMSG, "the key is 48 bytes long, expected 32");

	/* The file without its final newline still loads. */
	memset(bytes, 7, 32);
	sodium_bin2base64(b64, sizeof(b64), bytes, 32, sodium_base64_VARIANT_ORIGINAL);
	assert_true(xsnprintf(text, sizeof(text), "rollwave identity v1\n%s", b64) > 0);
	write_text(f->key, text, 0600);
	{
		struct identity id;
		struct rw_err err = {{0}};
		uint8_t pk[32], sk[64];

		assert_int_equal(identity_load_or_create(f->key, &id, NULL, &err), 0);
		assert_int_equal(crypto_sign_seed_keypair(pk, sk, bytes), 0);
		assert_memory_equal(id.pk, pk, 32);
	}
}

static void
test_identity_symlink_at_key_path_is_refused(void **state)
{
	struct fixture *f = *state;
	char target[160];
	struct identity id;
	struct rw_err err = {{0}};
	struct stat st;

	/* A symlink to a valid key... */
	assert_true(xsnprintf(target, sizeof(target), "%s/real.key", f->dir) > 0);
	assert_int_equal(identity_load_or_create(target, &id, NULL, &err), 0);
	assert_int_equal(symlink(target, f->key), 0);
	assert_int_equal(identity_load_or_create(f->key, &id, NULL, &err), -ELOOP);
	assert_non_null(strstr(err.msg, "symbolic link"));
	assert_non_null(strstr(err.msg, f->key));

	/* ...and a dangling one, which must not be followed to create a key. */
	assert_int_equal(unlink(f->key), 0);
	assert_true(xsnprintf(target, sizeof(target), "%s/planted.key", f->dir) > 0);
	assert_int_equal(symlink(target, f->key), 0);
	assert_int_equal(identity_load_or_create(f->key, &id, NULL, &err), -ELOOP);
	assert_int_equal(lstat(target, &st), -1);
	assert_int_equal(errno, ENOENT);
}

static void
test_identity_missing_directory_is_an_error(void **state)
{
	struct fixture *f = *state;
	char path[160];
	struct identity id;
	struct rw_err err = {{0}};

	assert_true(xsnprintf(path, sizeof(path), "%s/no/such/identity.key", f->dir) > 0);
	assert_int_equal(identity_load_or_create(path, &id, NULL, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "cannot create"));
}

static void
test_identity_sign_verify_round_trip_and_tampered_message_fails(void **state)
{
	struct fixture *f = *state;
	static const char msg[] = "rollwave-auth-v1 nonce";
	char tampered[sizeof(msg)];
	uint8_t sig[64], other_pk[32], other_sk[64];
	struct identity id;
	struct rw_err err = {{0}};

	assert_int_equal(identity_load_or_create(f->key, &id, NULL, &err), 0);
	identity_sign(&id, msg, sizeof(msg) - 1, sig);
	assert_int_equal(identity_verify(id.pk, msg, sizeof(msg) - 1, sig), 0);
	/* libsodium agrees. */
	assert_int_equal(
	        crypto_sign_verify_detached(sig, (const uint8_t *)msg, sizeof(msg) - 1, id.pk), 0);

	memcpy(tampered, msg, sizeof(msg));
	tampered[0] ^= 1;
	assert_int_equal(identity_verify(id.pk, tampered, sizeof(msg) - 1, sig), -EBADMSG);
	assert_int_equal(identity_verify(id.pk, msg, sizeof(msg) - 2, sig), -EBADMSG);
	sig[10] ^= 0x80;
	assert_int_equal(identity_verify(id.pk, msg, sizeof(msg) - 1, sig), -EBADMSG);
	sig[10] ^= 0x80;
	crypto_sign_keypair(other_pk, other_sk);
	assert_int_equal(identity_verify(other_pk, msg, sizeof(msg) - 1, sig), -EBADMSG);

	/* An empty message signs too. */
	identity_sign(&id, NULL, 0, sig);
	assert_int_equal(identity_verify(id.pk, NULL, 0, sig), 0);
	identity_done(&id);
}

static void
test_identity_fingerprint_is_blake2b_of_public_key(void **state)
{
	(void)state;
	uint8_t pk[32], h[64];
	char hex[65], fp[IDENTITY_FINGERPRINT_SIZE], expect[32];

	for (size_t i = 0; i < sizeof(pk); i++)
		pk[i] = (uint8_t)i;
	identity_public_hex(pk, hex);
	assert_string_equal(hex,
	        "000102030405060708090a0b0c0d0e0f"
	        "101112131415161718191a1b1c1d1e1f");
	identity_fingerprint(pk, fp);
	crypto_generichash(h, sizeof(h), pk, sizeof(pk), NULL, 0);
	hex_encode(h, 8, hex);
	assert_true(xsnprintf(expect, sizeof(expect), "ed25519:%s", hex) > 0);
	assert_string_equal(fp, expect);
	assert_int_equal(strlen(fp), 24);
	pk[31] ^= 1;
	identity_fingerprint(pk, hex);
	assert_string_not_equal(fp, hex);
}

static void
test_identity_pin_store_load_round_trip(void **state)
{
	struct fixture *f = *state;
	uint8_t pk[32], other[32], got[32];
	struct rw_err err = {{0}};
	struct stat st;
	_cleanup_free_ char *text = NULL;
	char hex[65];

	randombytes_buf(pk, sizeof(pk));
	randombytes_buf(other, sizeof(other));

	assert_int_equal(identity_pin_load(f->pin, got, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "does not exist"));

	assert_int_equal(identity_pin_store(f->pin, pk, &err), 0);
	assert_int_equal(lstat(f->pin, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(identity_pin_load(f->pin, got, &err), 0);
	assert_memory_equal(got, pk, 32);

	assert_int_equal(read_full_file(f->pin, 4096, false, &text, NULL), 0);
	identity_public_hex(pk, hex);
	assert_int_equal(strncmp(text, "rollwave pinned key v1\n", 23), 0);
	assert_int_equal(strncmp(text + 23, hex, 64), 0);
	assert_string_equal(text + 23 + 64, "\n");

	/* A new pin replaces the old one. */
	assert_int_equal(identity_pin_store(f->pin, other, &err), 0);
	assert_int_equal(identity_pin_load(f->pin, got, &err), 0);
	assert_memory_equal(got, other, 32);
}

static void
test_identity_bad_pin_file_is_refused(void **state)
{
	struct fixture *f = *state;
	uint8_t pk[32], got[32];
	struct rw_err err = {{0}};
	char target[160];

	memset(pk, 0xab, sizeof(pk));
	assert_int_equal(identity_pin_store(f->pin, pk, &err), 0);

	/* Readable by others is fine (it is public); writable is not. */
	assert_int_equal(chmod(f->pin, 0644), 0);
	assert_int_equal(identity_pin_load(f->pin, got, &err), 0);
	assert_int_equal(chmod(f->pin, 0666), 0);
	assert_int_equal(identity_pin_load(f->pin, got, &err), -EPERM);
	assert_non_null(strstr(err.msg, "writable"));

	write_text(f->pin, "rollwave pinned key v1\nabcd\n", 0600);
	assert_int_equal(identity_pin_load(f->pin, got, &err), -EBADMSG);
	assert_non_null(strstr(err.msg, "64 hex digits"));
	write_text(f->pin,
	        "rollwave pinned key v1\n"
	        "zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n",
	        0600);
	assert_int_equal(identity_pin_load(f->pin, got, &err), -EBADMSG);
	assert_non_null(strstr(err.msg, "not hex"));
	write_text(f->pin,
	        "rollwave identity v1\n"
	        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n",
	        0600);
	assert_int_equal(identity_pin_load(f->pin, got, &err), -EBADMSG);

	assert_int_equal(unlink(f->pin), 0);
	assert_true(xsnprintf(target, sizeof(target), "%s/real.pub", f->dir) > 0);
	assert_int_equal(identity_pin_store(target, pk, &err), 0);
	assert_int_equal(symlink(target, f->pin), 0);
	assert_int_equal(identity_pin_load(f->pin, got, &err), -ELOOP);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(
	                test_identity_create_then_load_gives_same_key, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_identity_two_new_keys_differ, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_identity_key_file_has_mode_0600, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_identity_group_readable_key_file_is_refused, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_identity_key_file_of_another_user_is_refused, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_identity_corrupt_key_file_is_refused, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_identity_symlink_at_key_path_is_refused, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_identity_missing_directory_is_an_error, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_identity_sign_verify_round_trip_and_tampered_message_fails, setup,
	                teardown),
	        cmocka_unit_test(test_identity_fingerprint_is_blake2b_of_public_key),
	        cmocka_unit_test_setup_teardown(
	                test_identity_pin_store_load_round_trip, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_identity_bad_pin_file_is_refused, setup, teardown),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
