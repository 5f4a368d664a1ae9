/*
 * test_manifest: the strict release manifest parser, its formatter, and
 * signature verification before parsing.
 */
#include <setjmp.h>
#include <sodium.h>
#include <stdarg.h>

#include <cmocka.h>

#include "manifest.h"

#define HASH_HEX                                                                                   \
	"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"                         \
	"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

/* Line numbers matter to the tests below: [Release] is line 1. */
static const char *const valid_lines[] = {
        "[Release]",
        "App=web",
        "Version=1.4.2",
        "Artifact=web-1.4.2.tar.gz        ; relative to the manifest's URL, or absolute",
        "Size=48213376",
        "Blake2b512=" HASH_HEX,
        "Created=2026-11-27T10:00:00Z",
        "Expires=2027-02-25T00:00:00Z",
};
static const char *const key_names[] = {
        "App",
        "Version",
        "Artifact",
        "Size",
        "Blake2b512",
        "Created",
        "Expires",
};

/* Joins valid_lines, replacing line `replace` (1-based, 0 for none) with
 * `with` (NULL drops it) and appending `append` (if non-NULL). */
static char *
build(size_t replace, const char *with, const char *append)
{
	char *buf = calloc(1, 8192);
	size_t off = 0;

	assert_non_null(buf);
	for (size_t i = 0; i < ELEMENTSOF(valid_lines); i++) {
		const char *l = i + 1 == replace ? with : valid_lines[i];

		if (l)
			off += (size_t)snprintf(buf + off, 8192 - off, "%s\n", l);
	}
	if (append)
		snprintf(buf + off, 8192 - off, "%s\n", append);
	return buf;
}

static int
parse(const char *text, struct manifest *m, struct rw_err *err)
{
	return manifest_parse(text, strlen(text), m, err);
}

static void
test_valid_manifest_parses(void **state)
{
	_cleanup_free_ char *text = build(0, NULL, NULL);
	struct rw_err err = {""};
	struct manifest m;
	uint64_t created;

	(void)state;
	assert_int_equal(parse(text, &m, &err), 0);
	assert_string_equal(m.app, "web");
	assert_string_equal(m.version, "1.4.2");
	assert_string_equal(m.artifact, "web-1.4.2.tar.gz");
	assert_int_equal(m.size, 48213376);
	assert_int_equal(m.blake2b[0], 0x00);
	assert_int_equal(m.blake2b[1], 0x11);
	assert_int_equal(m.blake2b[63], 0xff);
	assert_int_equal(parse_timestamp_utc("2026-11-27T10:00:00Z", &created), 0);
	assert_int_equal(m.created_usec, created);
	assert_true(m.expires_usec > m.created_usec);
}

static void
test_each_missing_key_is_named_with_file_and_line(void **state)
{
	(void)state;
	for (size_t i = 0; i < ELEMENTSOF(key_names); i++) {
		_cleanup_free_ char *text = build(i + 2, NULL, NULL);
		struct rw_err err = {""};
		struct manifest m;
		char expect[128];

		assert_int_equal(parse(text, &m, &err), -EINVAL);
		/* 7 lines remain; the error points at the end of the file. */
		snprintf(expect, sizeof(expect), "manifest:7: missing %s= in [Release]",
		        key_names[i]);
		assert_string_equal(err.msg, expect);
	}
}

static void
test_each_duplicate_key_is_refused_with_its_line(void **state)
{
	(void)state;
	for (size_t i = 0; i < ELEMENTSOF(key_names); i++) {
		_cleanup_free_ char *text = build(0, NULL, valid_lines[i + 1]);
		struct rw_err err = {""};
		struct manifest m;
		char expect[128];

		assert_int_equal(parse(text, &m, &err), -EINVAL);
		snprintf(expect, sizeof(expect), "manifest:9: duplicate key '%s'", key_names[i]);
		assert_string_equal(err.msg, expect);
	}
}

static void
test_unknown_key_is_refused_with_its_line(void **state)
{
	_cleanup_free_ char *text = build(3, "Verison=1.4.2", NULL);
	struct rw_err err = {""};
	struct manifest m;

	(void)state;
	assert_int_equal(parse(text, &m, &err), -EINVAL);
	assert_string_equal(err.msg, "manifest:3: unknown key 'Verison' in [Release]");
}

static void
test_named_parse_puts_the_name_in_errors(void **state)
{
	_cleanup_free_ char *text = build(5, "Size=12kB", NULL);
	struct rw_err err = {""};
	struct manifest m;

	(void)state;
	assert_int_equal(
	        manifest_parse_named("web-1.4.2.manifest", text, strlen(text), &m, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "web-1.4.2.manifest:5: invalid Size="));
}

static void
test_unknown_section_is_refused(void **state)
{
	_cleanup_free_ char *text = build(0, NULL, "[Extra]\nFoo=bar");
	struct rw_err err = {""};
	struct manifest m;

	(void)state;
	assert_int_equal(parse(text, &m, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "manifest:10: unknown section [Extra]"));
}

static void
expect_bad_line(size_t line, const char *with, const char *needle)
{
	_cleanup_free_ char *text = build(line, with, NULL);
	struct rw_err err = {""};
	struct manifest m;
	char where[32];

	assert_int_equal(parse(text, &m, &err), -EINVAL);
	snprintf(where, sizeof(where), "manifest:%zu: ", line);
	if (!strstr(err.msg, where) || !strstr(err.msg, needle))
		fail_msg("'%s': unexpected error '%s'", with, err.msg);
}

static void
test_bad_hash_is_refused(void **state)
{
	(void)state;
	expect_bad_line(6, "Blake2b512=" HASH_HEX "0", "Blake2b512");
	expect_bad_line(6, "Blake2b512=0" HASH_HEX, "Blake2b512");
	expect_bad_line(6, "Blake2b512=" HASH_HEX "00", "Blake2b512");
	expect_bad_line(6, "Blake2b512=", "Blake2b512");
	/* 127 digits and a 'g' */
	expect_bad_line(6,
	        "Blake2b512=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeefg",
	        "Blake2b512");
}

static void
test_bad_timestamps_are_refused(void **state)
{
	(void)state;
	expect_bad_line(7, "Created=2026-11-27 10:00:00Z", "Created");
	expect_bad_line(7, "Created=2026-11-27T10:00:00", "Created");
	expect_bad_line(7, "Created=2026-11-27T10:00:00+01:00", "Created");
	expect_bad_line(7, "Created=2026-02-31T10:00:00Z", "Created");
	expect_bad_line(7, "Created=2026-11-27T25:00:00Z", "Created");
	expect_bad_line(7, "Created=1795780395", "Created");
	expect_bad_line(8, "Expires=", "Expires");
	expect_bad_line(8, "Expires=2027-2-25T00:00:00Z", "Expires");
}

static void
test_expiry_must_follow_creation(void **state)
{
	_cleanup_free_ char *text = build(8, "Expires=2026-11-27T10:00:00Z", NULL);
	struct rw_err err = {""};
	struct manifest m;

	(void)state;
	assert_int_equal(parse(text, &m, &err), -EINVAL);
	assert_string_equal(err.msg, "manifest: Expires= is not after Created=");
}

static void
test_bad_values_are_refused(void **state)
{
	char longname[MANIFEST_ARTIFACT_MAX + 16];

	(void)state;
	expect_bad_line(2, "App=Web", "App");
	expect_bad_line(2, "App=", "App");
	expect_bad_line(2, "App=../etc", "App");
	expect_bad_line(3, "Version=../1", "Version");
	expect_bad_line(3, "Version=-1", "Version");
	expect_bad_line(5, "Size=0", "Size");
	expect_bad_line(5, "Size=-1", "Size");
	expect_bad_line(5, "Size=0100", "Size");
	expect_bad_line(5, "Size=18446744073709551616", "Size");
	expect_bad_line(5, "Size=1e6", "Size");
	expect_bad_line(4, "Artifact=", "Artifact");
	expect_bad_line(4, "Artifact=a\tb", "Artifact");
	strcpy(longname, "Artifact=");
	memset(longname + 9, 'a', MANIFEST_ARTIFACT_MAX + 1);
	longname[9 + MANIFEST_ARTIFACT_MAX + 1] = 0;
	expect_bad_line(4, longname, "Artifact");
}

static void
test_format_parses_back_to_the_same_manifest(void **state)
{
	_cleanup_free_ char *text = build(0, NULL, NULL), *out = NULL;
	struct manifest m, back;

	(void)state;
	assert_int_equal(parse(text, &m, NULL), 0);
	assert_int_equal(manifest_format(&m, &out), 0);
	assert_int_equal(parse(out, &back, NULL), 0);
	assert_memory_equal(&m, &back, sizeof(m));
	free(out);
	out = NULL;
	m.size = 0;
	assert_int_equal(manifest_format(&m, &out), -EINVAL);
	assert_null(out);
}

struct signer {
	struct minisign_seckey sec;
	struct minisign_pubkey pub;
};

static char *
sign(const struct signer *s, const char *text)
{
	char *sig = NULL;

	assert_int_equal(
	        minisign_sign_buffer(&s->sec, text, strlen(text), "manifest", NULL, &sig, NULL), 0);
	return sig;
}

static void
test_verify_and_parse_accepts_a_signed_manifest(void **state)
{
	struct signer s;
	_cleanup_free_ char *text = build(0, NULL, NULL);
	_cleanup_free_ char *sig = NULL;
	struct rw_err err = {""};
	struct manifest m;

	(void)state;
	assert_int_equal(minisign_keygen(&s.sec, &s.pub), 0);
	sig = sign(&s, text);
	assert_int_equal(manifest_verify_and_parse(
	                         text, strlen(text), sig, strlen(sig), &s.pub, 1, &m, &err),
	        0);
	assert_string_equal(m.app, "web");
	minisign_seckey_wipe(&s.sec);
}

static void
test_bad_signature_is_refused_before_parsing(void **state)
{
	struct signer s, other;
	/* Would not parse at all: the error must come from the signature. */
	const char *garbage = "this is not\n[an INI file\n\x01\x02";
	_cleanup_free_ char *sig = NULL;
	_cleanup_free_ char *text = build(0, NULL, NULL);
	struct rw_err err = {""};
	struct manifest m;

	(void)state;
	assert_int_equal(minisign_keygen(&s.sec, &s.pub), 0);
	assert_int_equal(minisign_keygen(&other.sec, &other.pub), 0);

	/* Signature over other bytes: bad signature, not a parse error. */
	sig = sign(&s, text);
	assert_int_equal(manifest_verify_and_parse(
	                         garbage, strlen(garbage), sig, strlen(sig), &s.pub, 1, &m, &err),
	        -EBADMSG);
	assert_non_null(strstr(err.msg, "signature verification failed"));

	/* Valid signature by a key nobody trusts. */
	free(sig);
	sig = sign(&other, garbage);
	assert_int_equal(manifest_verify_and_parse(
	                         garbage, strlen(garbage), sig, strlen(sig), &s.pub, 1, &m, &err),
	        -ENOKEY);
	assert_non_null(strstr(err.msg, "signed by untrusted key"));

	/* No usable signature at all. */
	assert_int_equal(
	        manifest_verify_and_parse(garbage, strlen(garbage), "junk", 4, &s.pub, 1, &m, &err),
	        -EINVAL);
	assert_non_null(strstr(err.msg, "manifest signature"));

	/* A trusted signature over an invalid manifest still fails, in the parser. */
	free(sig);
	sig = sign(&s, garbage);
	assert_int_equal(manifest_verify_and_parse(
	                         garbage, strlen(garbage), sig, strlen(sig), &s.pub, 1, &m, &err),
	        -EINVAL);
	assert_non_null(strstr(err.msg, "manifest:1:"));
	minisign_seckey_wipe(&s.sec);
	minisign_seckey_wipe(&other.sec);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_valid_manifest_parses),
	        cmocka_unit_test(test_each_missing_key_is_named_with_file_and_line),
	        cmocka_unit_test(test_each_duplicate_key_is_refused_with_its_line),
	        cmocka_unit_test(test_unknown_key_is_refused_with_its_line),
	        cmocka_unit_test(test_named_parse_puts_the_name_in_errors),
	        cmocka_unit_test(test_unknown_section_is_refused),
	        cmocka_unit_test(test_bad_hash_is_refused),
	        cmocka_unit_test(test_bad_timestamps_are_refused),
	        cmocka_unit_test(test_expiry_must_follow_creation),
	        cmocka_unit_test(test_bad_values_are_refused),
	        cmocka_unit_test(test_format_parses_back_to_the_same_manifest),
	        cmocka_unit_test(test_verify_and_parse_accepts_a_signed_manifest),
	        cmocka_unit_test(test_bad_signature_is_refused_before_parsing),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
