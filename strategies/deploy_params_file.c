/*
 * deploy_params_file: the deployment file, a systemd-style INI file checked
 * into the app's repository. Sections group the keys of deploy_params.h
 * (the table there says which key goes where); [Gate-NAME] sections hold
 * one metric gate each. Every key goes through deploy_params_set(), so the
 * file and the command line cannot disagree. Keys are spelled exactly as
 * documented here (the setter's leniency is for command-line flags).
 */
#include "deploy_params.h"

#include "ini.h"

#define GATE_SECTION_PREFIX "Gate-"

static const char *const gate_fields[] = {"Query", "Condition", "MinSamples", "NoData", "URL"};

static int
gate_handler(struct deploy_params *p, const char *name, const char *key, const char *value,
        struct rw_err *err)
{
	char full[128];

	for (size_t i = 0; i < ELEMENTSOF(gate_fields); i++) {
		if (!streq(key, gate_fields[i]))
			continue;
		if (xsnprintf(full, sizeof(full), "Gate.%s.%s", name, key) < 0)
			return rw_err_set(err, -EINVAL, "gate name '%s' is too long", name);
		return deploy_params_set(p, full, value, err);
	}
	return rw_err_set(err, -EINVAL,
	        "unknown key '%s' in [" GATE_SECTION_PREFIX "%s] (Query, Condition, MinSamples, "
	        "NoData, URL)",
	        key, name);
}

static bool
section_is_known(const char *section, const struct deploy_key_info *k, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (streq(k[i].section, section))
			return true;
	return false;
}

static int
file_handler(
        void *userdata, const char *section, const char *key, const char *value, struct rw_err *err)
{
	struct deploy_params *p = userdata;
	const struct deploy_key_info *k;
	size_t n;

	if (strncmp(section, GATE_SECTION_PREFIX, strlen(GATE_SECTION_PREFIX)) == 0)
		return gate_handler(p, section + strlen(GATE_SECTION_PREFIX), key, value, err);

	k = deploy_params_keys(&n);
	if (!section_is_known(section, k, n))
		return rw_err_set(err, -EINVAL,
		        "unknown section [%s] (Deployment, Rolling, Canary, Ring, BlueGreen, "
		        "Gate-NAME)",
		        section);
	for (size_t i = 0; i < n; i++) {
		if (k[i].key == DEPLOY_KEY_GATE || !streq(k[i].name, key))
			continue;
		if (!streq(k[i].section, section))
			return rw_err_set(err, -EINVAL, "%s= belongs in [%s], not [%s]", key,
			        k[i].section, section);
		return deploy_params_set(p, key, value, err);
	}
	return rw_err_set(err, -EINVAL, "unknown key '%s' in [%s]", key, section);
}

int
deploy_params_load_buffer(
        struct deploy_params *p, const char *name, const char *buf, size_t len, struct rw_err *err)
{
	return ini_parse_buffer(name, buf, len, 0, file_handler, p, err);
}

int
deploy_params_load_file(struct deploy_params *p, const char *path, struct rw_err *err)
{
	return ini_parse_file(path, 0, file_handler, p, err);
}
