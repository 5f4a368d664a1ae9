/*
 * test_minisign: keys and signatures in minisign's formats, including
 * vectors made by the real minisign 0.11.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <sodium.h>
#include <stdarg.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "minisign.h"

/* Made with minisign 0.11: minisign -G -W; minisign -S -t "rollwave test
 * vector" (and -l -t "legacy vector") of "hello rollwave\n". */
static const char vec_message[] = "hello rollwave\n";
static const char vec_pub[] = "untrusted comment: minisign public key A07EF1032DA5C3B4\n"
                              "RWS0w6UtA/F+oMgZ9lsfsgKNcAlHYE5znvqqoliXIiUwGmCp0LJLkGe9\n";
static const char vec_key[] =
        "untrusted comment: minisign encrypted secret key\n"
        "RWQAAEIyAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAtMOlLQPx"
        "fqCaihZuo72TUndlutJrLE35dvksUBZ0infcG8u7Pz6GFMgZ9lsfsgKNcAlHYE5znvqqoliXIiUwGmCp"
        "0LJLkGe9AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
static const char vec_sig[] = "untrusted comment: signature from minisign secret key\n"
                              "RUS0w6UtA/F+oHQyl3QL8cCYkqSPySdClsgoccJPGzdRQYUaVvfE3lVbBrG6bZ4Pzz"
                              "WZCaW6IoAXcxtyRPEa4Ff4kNqn7xtsmgE=\n"
                              "trusted comment: rollwave test vector\n"
                              "Pb8zqnpGV0F4JjwLm1pYIgrba29dgzL7rGiyixLqPESPEmFg0gfrijIZSTnUisbh0Rf"
                              "UqApCGVSvv6jwhB6TAQ==\n";
static const char vec_legacy_sig[] =
        "untrusted comment: signature from minisign secret key\n"
        "RWS0w6UtA/F+oHEbIusPUyRJsZTp7QpThWkw0vnftGSUojbt/RCNj1L50Gz4hh7hOJD3OOO0IlQLznQ19gMSjZAX"
        "10vWX94uuwU=\n"
        "trusted comment: legacy vector\n"
        "9yaiKxMlkAFuviFsTkTrCQvlxAliNSW4mxIQjn9maGmNny22W8IrRxlX2FLEcg+phvvndiJJGf4ZeMtcVsn+CA=="
        "\n";

struct fixture {
	char dir[64];
	struct minisign_seckey sec;
	struct minisign_pubkey pub;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	strcpy(f->dir, "/tmp/test_minisign.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(minisign_keygen(&f->sec, &f->pub), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	rm_rf_at(AT_FDCWD, f->dir);
	minisign_seckey_wipe(&f->sec);
	free(f);
	return 0;
}

static void
path_in(const struct fixture *f, const char *name, char buf[static 256])
{
	assert_true(xsnprintf(buf, 256, "%s/%s", f->dir, name) > 0);
}

static void
write_file(const char *path, const void *data, size_t len)
{
	assert_int_equal(write_file_atomic(path, data, len, 0644), 0);
}

static char *
sign_text(const struct fixture *f, const char *msg, const char *tc)
{
	struct rw_err err = {""};
	char *sig = NULL;

	assert_int_equal(minisign_sign_buffer(&f->sec, msg, strlen(msg), tc, NULL, &sig, &err), 0);
	return sig;
}

static int
verify_text(const struct minisign_pubkey *keys, size_t nkeys, const char *msg, const char *sigtext,
        struct rw_err *err)
{
	struct minisign_sig sig;
	int r;

	r = minisign_sig_parse(sigtext, strlen(sigtext), &sig, err);
	if (r < 0)
		return r;
	return minisign_verify_buffer(keys, nkeys, msg, strlen(msg), &sig, err);
}

static void
test_sign_verify_round_trip(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *sig = sign_text(f, "release bytes", "app:web version:1.0");
	struct minisign_sig parsed;
	struct rw_err err = {""};

	assert_int_equal(verify_text(&f->pub, 1, "release bytes", sig, &err), 0);
	assert_int_equal(minisign_sig_parse(sig, strlen(sig), &parsed, &err), 0);
	assert_string_equal(parsed.trusted_comment, "app:web version:1.0");
	assert_memory_equal(parsed.keyid, f->pub.keyid, MINISIGN_KEYID_BYTES);
}

static void
test_verify_accepts_real_minisign_signature(void **state)
{
	struct minisign_pubkey pub;
	struct rw_err err = {""};
	char id[MINISIGN_KEYID_STR_MAX];

	(void)state;
	assert_int_equal(minisign_pubkey_parse(vec_pub, strlen(vec_pub), &pub, &err), 0);
	minisign_keyid_format(pub.keyid, id);
	assert_string_equal(id, "A07EF1032DA5C3B4");
	assert_int_equal(verify_text(&pub, 1, vec_message, vec_sig, &err), 0);
}

static void
test_loads_minisign_unencrypted_secret_key(void **state)
{
	_cleanup_seckey_ struct minisign_seckey sec;
	struct minisign_pubkey pub, derived;
	_cleanup_free_ char *sig = NULL;
	struct rw_err err = {""};

	(void)state;
	assert_int_equal(minisign_seckey_parse(vec_key, strlen(vec_key), NULL, &sec, &err), 0);
	assert_int_equal(minisign_pubkey_parse(vec_pub, strlen(vec_pub), &pub, &err), 0);
	minisign_seckey_pubkey(&sec, &derived);
	assert_memory_equal(&derived, &pub, sizeof(pub));
	assert_int_equal(minisign_sign_buffer(&sec, "x", 1, "t", NULL, &sig, &err), 0);
	assert_int_equal(verify_text(&pub, 1, "x", sig, &err), 0);
}

static void
test_pubkey_parse_accepts_bare_base64_line(void **state)
{
	struct minisign_pubkey a, b;
	const char *line = strchr(vec_pub, '\n') + 1;

	(void)state;
	assert_int_equal(minisign_pubkey_parse(vec_pub, strlen(vec_pub), &a, NULL), 0);
	assert_int_equal(minisign_pubkey_parse(line, strlen(line), &b, NULL), 0);
	assert_memory_equal(&a, &b, sizeof(a));
}

static void
test_pubkey_parse_refuses_garbage(void **state)
{
	struct minisign_pubkey pub;
	struct rw_err err = {""};
	static const char *const bad[] = {
	        "",
	        "untrusted comment: x\n",
	        "untrusted comment: x\nRWS0w6UtA/F+oMgZ9lsfsgKNcAlHYE5znvqqoliXIiUwGmCp0LJLkGe\n",
	        "untrusted comment: x\nRWS0w6UtA/F+oMgZ9lsfsgKNcAlHYE5znvqqoliXIiUwGmCp0LJLkGe9A\n",
	        ("untrusted comment: x\n"
	         "RWS0w6UtA/F+oMgZ9lsfsgKNcAlHYE5znvqqoliXIiUwGmCp0LJLkGe9\nmore\n"),
	        "untrusted comment: x\n!WS0w6UtA/F+oMgZ9lsfsgKNcAlHYE5znvqqoliXIiUwGmCp0LJLkGe9\n",
	        /* "ED" instead of "Ed" as the key algorithm */
	        "untrusted comment: x\nRUS0w6UtA/F+oMgZ9lsfsgKNcAlHYE5znvqqoliXIiUwGmCp0LJLkGe9\n",
	};

	(void)state;
	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		assert_true(minisign_pubkey_parse(bad[i], strlen(bad[i]), &pub, &err) < 0);
}

static void
test_unencrypted_key_file_round_trip(void **state)
{
	struct fixture *f = *state;
	char pub[256], sec[256];
	_cleanup_seckey_ struct minisign_seckey sk;
	struct minisign_pubkey pk, made;
	_cleanup_free_ char *sig = NULL;
	struct rw_err err = {""};
	struct stat st;

	path_in(f, "k.pub", pub);
	path_in(f, "k.key", sec);
	assert_int_equal(minisign_keygen_files(pub, sec, NULL, false, &made, &err), 0);
	assert_int_equal(stat(sec, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(minisign_pubkey_load(pub, &pk, &err), 0);
	assert_memory_equal(&pk, &made, sizeof(pk));
	assert_int_equal(minisign_seckey_load(sec, NULL, &sk, &err), 0);
	assert_int_equal(minisign_sign_buffer(&sk, "abc", 3, NULL, NULL, &sig, &err), 0);
	assert_int_equal(verify_text(&pk, 1, "abc", sig, &err), 0);
}

static void
test_keygen_refuses_to_overwrite_without_force(void **state)
{
	struct fixture *f = *state;
	char pub[256], sec[256];
	struct minisign_pubkey first, second, loaded;
	struct rw_err err = {""};

	path_in(f, "k.pub", pub);
	path_in(f, "k.key", sec);
	assert_int_equal(minisign_keygen_files(pub, sec, NULL, false, &first, &err), 0);
	assert_int_equal(minisign_keygen_files(pub, sec, NULL, false, &second, &err), -EEXIST);
	assert_non_null(strstr(err.msg, "already exists"));
	assert_int_equal(minisign_pubkey_load(pub, &loaded, &err), 0);
	assert_memory_equal(&loaded, &first, sizeof(first));
	assert_int_equal(minisign_keygen_files(pub, sec, NULL, true, &second, &err), 0);
	assert_int_equal(minisign_pubkey_load(pub, &loaded, &err), 0);
	assert_memory_equal(&loaded, &second, sizeof(second));
}

static char *
encrypted_key_text(const struct fixture *f, const char *password)
{
	const struct minisign_kdf_limits lim = MINISIGN_KDF_INTERACTIVE;
	struct rw_err err = {""};
	char *text = NULL;

	assert_int_equal(minisign_seckey_format(&f->sec, password, &lim, &text, &err), 0);
	return text;
}

static void
test_encrypted_key_round_trip(void **state)
{
	struct fixture *f = *state;
	char *text = encrypted_key_text(f, "correct horse");
	_cleanup_seckey_ struct minisign_seckey sk;
	struct rw_err err = {""};
	char path[256];

	path_in(f, "enc.key", path);
	write_file(path, text, strlen(text));
	minisign_text_free(text);
	assert_int_equal(minisign_seckey_load(path, "correct horse", &sk, &err), 0);
	assert_memory_equal(&sk, &f->sec, sizeof(sk));
}

static void
test_encrypted_key_without_password_is_refused(void **state)
{
	struct fixture *f = *state;
	char *text = encrypted_key_text(f, "pw");
	struct minisign_seckey sk;
	struct rw_err err = {""};

	assert_int_equal(minisign_seckey_parse(text, strlen(text), NULL, &sk, &err), -ENOKEY);
	assert_non_null(strstr(err.msg, "encrypted"));
	minisign_text_free(text);
}

static void
test_encrypted_key_wrong_password_is_refused(void **state)
{
	struct fixture *f = *state;
	char *text = encrypted_key_text(f, "right");
	struct minisign_seckey sk;
	struct rw_err err = {""};

	assert_int_equal(
	        minisign_seckey_parse(text, strlen(text), "wrong", &sk, &err), -EKEYREJECTED);
	assert_non_null(strstr(err.msg, "wrong password"));
	minisign_text_free(text);
}

static void
test_corrupted_unencrypted_key_is_refused(void **state)
{
	struct fixture *f = *state;
	char *text = NULL;
	struct minisign_seckey sk;
	struct rw_err err = {""};
	char *line;

	assert_int_equal(minisign_seckey_format(&f->sec, NULL, NULL, &text, &err), 0);
	line = strchr(text, '\n') + 1;
	/* Change a character in the middle of the secret key bytes. */
	line[120] = line[120] == 'A' ? 'B' : 'A';
	assert_true(minisign_seckey_parse(text, strlen(text), NULL, &sk, &err) < 0);
	minisign_text_free(text);
}

static void
test_verify_refuses_untrusted_key(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *sig = sign_text(f, "data", "tc");
	_cleanup_seckey_ struct minisign_seckey other_sec;
	struct minisign_pubkey other;
	struct rw_err err = {""};
	char id[MINISIGN_KEYID_STR_MAX], expect[64];

	assert_int_equal(minisign_keygen(&other_sec, &other), 0);
	assert_int_equal(verify_text(&other, 1, "data", sig, &err), -ENOKEY);
	minisign_keyid_format(f->pub.keyid, id);
	snprintf(expect, sizeof(expect), "signed by untrusted key %s", id);
	assert_string_equal(err.msg, expect);
}

static void
test_verify_finds_the_signing_key_among_several(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *sig = sign_text(f, "data", "tc");
	_cleanup_seckey_ struct minisign_seckey s1, s2;
	struct minisign_pubkey keys[3];
	struct rw_err err = {""};

	assert_int_equal(minisign_keygen(&s1, &keys[0]), 0);
	keys[1] = f->pub;
	assert_int_equal(minisign_keygen(&s2, &keys[2]), 0);
	assert_int_equal(verify_text(keys, 3, "data", sig, &err), 0);
}

static void
test_verify_refuses_same_keyid_with_other_key(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *sig = sign_text(f, "data", "tc");
	_cleanup_seckey_ struct minisign_seckey s;
	struct minisign_pubkey impostor;
	struct rw_err err = {""};

	assert_int_equal(minisign_keygen(&s, &impostor), 0);
	memcpy(impostor.keyid, f->pub.keyid, sizeof(impostor.keyid));
	assert_int_equal(verify_text(&impostor, 1, "data", sig, &err), -EBADMSG);
}

static void
test_edited_trusted_comment_is_refused(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *sig = sign_text(f, "data", "version:1.0");
	struct rw_err err = {""};
	char *p = strstr(sig, "version:1.0");

	assert_non_null(p);
	p[strlen("version:")] = '9';
	assert_int_equal(verify_text(&f->pub, 1, "data", sig, &err), -EBADMSG);
	assert_string_equal(err.msg, "trusted comment does not match its signature");
}

static void
test_flipped_byte_in_file_is_refused(void **state)
{
	struct fixture *f = *state;
	char path[256];
	_cleanup_free_ uint8_t *data = malloc(3 * 1024 * 1024 + 17);
	_cleanup_free_ char *sig = NULL;
	_cleanup_close_ int fd = -1;
	struct minisign_sig parsed;
	struct rw_err err = {""};
	const size_t len = 3 * 1024 * 1024 + 17;

	assert_non_null(data);
	randombytes_buf(data, len);
	path_in(f, "artifact", path);
	write_file(path, data, len);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(minisign_sign_fd(&f->sec, fd, "t", NULL, &sig, &err), 0);
	assert_int_equal(minisign_sig_parse(sig, strlen(sig), &parsed, &err), 0);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(minisign_verify_fd(&f->pub, 1, fd, &parsed, &err), 0);
	/* The streamed hash equals the one-shot hash of the same bytes. */
	assert_int_equal(minisign_verify_buffer(&f->pub, 1, data, len, &parsed, &err), 0);

	data[len / 2] ^= 0x01;
	write_file(path, data, len);
	close(fd);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(minisign_verify_fd(&f->pub, 1, fd, &parsed, &err), -EBADMSG);
	assert_string_equal(err.msg, "signature verification failed");
}

static void
test_hash_fd_reports_size(void **state)
{
	struct fixture *f = *state;
	char path[256];
	uint8_t h1[64], h2[64];
	uint64_t size = 0;
	_cleanup_close_ int fd = -1;

	path_in(f, "small", path);
	write_file(path, "hello", 5);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_int_equal(minisign_hash_fd(fd, h1, &size, NULL), 0);
	assert_int_equal(size, 5);
	crypto_generichash(h2, sizeof(h2), (const uint8_t *)"hello", 5, NULL, 0);
	assert_memory_equal(h1, h2, sizeof(h1));
}

static void
test_legacy_signature_is_refused(void **state)
{
	struct minisign_sig sig;
	struct rw_err err = {""};

	(void)state;
	assert_int_equal(minisign_sig_parse(vec_legacy_sig, strlen(vec_legacy_sig), &sig, &err),
	        -EPROTONOSUPPORT);
	assert_non_null(strstr(err.msg, "legacy non-prehashed signature refused"));
}

static void
test_sig_with_bad_base64_is_refused(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *sig = sign_text(f, "data", "tc");
	struct minisign_sig parsed;
	struct rw_err err = {""};
	char *line2 = strchr(sig, '\n') + 1;
	char *last = strrchr(sig, '\n');

	line2[5] = '*';
	assert_int_equal(minisign_sig_parse(sig, strlen(sig), &parsed, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "base64"));
	line2[5] = 'A';
	/* Cut the global signature short by four characters. */
	last[-4] = '\n';
	last[-3] = 0;
	assert_int_equal(minisign_sig_parse(sig, strlen(sig), &parsed, &err), -EINVAL);
}

static void
test_truncated_sig_is_refused(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *sig = sign_text(f, "data", "tc");
	struct minisign_sig parsed;
	size_t full = strlen(sig);

	/* Every cut before the last character of the global signature fails. */
	for (size_t n = 0; n < full - 1; n++)
		assert_true(minisign_sig_parse(sig, n, &parsed, NULL) < 0);
	assert_int_equal(minisign_sig_parse(sig, full - 1, &parsed, NULL), 0);
	assert_int_equal(minisign_sig_parse(sig, full, &parsed, NULL), 0);
}

static void
test_oversized_sig_is_refused(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *sig = sign_text(f, "data", "tc");
	_cleanup_free_ char *big = calloc(1, MINISIGN_FILE_MAX + 2);
	struct minisign_sig parsed;
	struct rw_err err = {""};
	char path[256];
	char tc[MINISIGN_TRUSTED_COMMENT_MAX + 2];

	assert_non_null(big);
	memcpy(big, sig, strlen(sig));
	memset(big + strlen(sig), '\n', MINISIGN_FILE_MAX + 1 - strlen(sig));
	assert_int_equal(minisign_sig_parse(big, MINISIGN_FILE_MAX + 1, &parsed, &err), -EFBIG);
	path_in(f, "big.minisig", path);
	write_file(path, big, MINISIGN_FILE_MAX + 1);
	assert_int_equal(minisign_sig_load(path, &parsed, &err), -EFBIG);

	/* A trusted comment over the limit cannot be signed either. */
	memset(tc, 'x', sizeof(tc) - 1);
	tc[sizeof(tc) - 1] = 0;
	free(sig);
	sig = NULL;
	assert_int_equal(minisign_sign_buffer(&f->sec, "d", 1, tc, NULL, &sig, &err), -EINVAL);
}

static void
test_sig_with_extra_lines_is_refused(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *sig = sign_text(f, "data", "tc");
	_cleanup_free_ char *more = NULL;
	struct minisign_sig parsed;

	assert_true(asprintf(&more, "%s\n\n", sig) > 0);
	assert_int_equal(minisign_sig_parse(more, strlen(more), &parsed, NULL), 0);
	free(more);
	assert_true(asprintf(&more, "%sextra\n", sig) > 0);
	assert_int_equal(minisign_sig_parse(more, strlen(more), &parsed, NULL), -EINVAL);
}

static void
test_sign_refuses_multiline_comments(void **state)
{
	struct fixture *f = *state;
	char *sig = NULL;

	assert_int_equal(minisign_sign_buffer(&f->sec, "d", 1, "a\nb", NULL, &sig, NULL), -EINVAL);
	assert_int_equal(minisign_sign_buffer(&f->sec, "d", 1, "a", "x\ry", &sig, NULL), -EINVAL);
	assert_null(sig);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_sign_verify_round_trip, setup, teardown),
	        cmocka_unit_test(test_verify_accepts_real_minisign_signature),
	        cmocka_unit_test(test_loads_minisign_unencrypted_secret_key),
	        cmocka_unit_test(test_pubkey_parse_accepts_bare_base64_line),
	        cmocka_unit_test(test_pubkey_parse_refuses_garbage),
	        cmocka_unit_test_setup_teardown(
	                test_unencrypted_key_file_round_trip, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_keygen_refuses_to_overwrite_without_force, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_encrypted_key_round_trip, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_encrypted_key_without_password_is_refused, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_encrypted_key_wrong_password_is_refused, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_corrupted_unencrypted_key_is_refused, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_verify_refuses_untrusted_key, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_verify_finds_the_signing_key_among_several, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_verify_refuses_same_keyid_with_other_key, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_edited_trusted_comment_is_refused, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_flipped_byte_in_file_is_refused, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_hash_fd_reports_size, setup, teardown),
	        cmocka_unit_test(test_legacy_signature_is_refused),
	        cmocka_unit_test_setup_teardown(
	                test_sig_with_bad_base64_is_refused, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_truncated_sig_is_refused, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_oversized_sig_is_refused, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_sig_with_extra_lines_is_refused, setup, teardown),
	        cmocka_unit_test_setup_teardown(
	                test_sign_refuses_multiline_comments, setup, teardown),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
