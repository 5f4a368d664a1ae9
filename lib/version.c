/*
 * version: validation and dpkg-style ordering of version strings.
 */
#include "version.h"

#include <ctype.h>

bool
version_is_valid(const char *v)
{
	size_t n = strlen(v);

	if (n == 0 || n > VERSION_MAX || !isalnum((unsigned char)v[0]))
		return false;
	for (const char *p = v; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("._+~-", *p))
			return false;
	return true;
}

bool
app_name_is_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > APP_NAME_MAX || !isalnum((unsigned char)name[0]))
		return false;
	for (const char *p = name; *p; p++)
		if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-' ||
		            *p == '_'))
			return false;
	return true;
}

/* dpkg's order for a non-digit character: '~' first, then end of string,
 * then letters, then everything else. */
static int
char_order(int c)
{
	if (c == '~')
		return -1;
	if (c == 0 || isdigit(c))
		return 0;
	if (isalpha(c))
		return c;
	return c + 256;
}

int
version_compare(const char *a, const char *b)
{
	while (*a || *b) {
		int first_diff = 0;

		while ((*a && !isdigit((unsigned char)*a)) || (*b && !isdigit((unsigned char)*b))) {
			int ac = char_order((unsigned char)*a), bc = char_order((unsigned char)*b);

			if (ac != bc)
				return ac - bc;
			a++;
			b++;
		}
		while (*a == '0')
			a++;
		while (*b == '0')
			b++;
		while (isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
			if (!first_diff)
				first_diff = *a - *b;
			a++;
			b++;
		}
		if (isdigit((unsigned char)*a))
			return 1;
		if (isdigit((unsigned char)*b))
			return -1;
		if (first_diff)
			return first_diff;
	}
	return 0;
}
