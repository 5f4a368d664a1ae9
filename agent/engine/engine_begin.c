/*
 * engine_begin: the preamble of the operations that change the host
 * (deploy, rollback, migrate, migrate_down): an interrupted operation is
 * recovered first (engine_recover.c), then the operation starts
 * (engine_op.c). It sits above both.
 */
#include "engine_private.h"

#include "layout.h"

int
engine_op_begin(struct op *op, struct engine *e, const struct app_config *app,
        struct engine_result *res, const struct op_begin *b, char current[static VERSION_MAX + 1],
        struct app_record *ret_ar)
{
	struct rw_err err = {{0}};
	struct engine_result rec;
	int r;

	/* A recovery that rolled back leaves a consistent host: go on. */
	r = engine_recover(e, app, &rec);
	engine_op_init(op, e, app, res);
	if (b->to)
		strbuf_printf(res->to, sizeof(res->to), "%s", b->to);
	if (r < 0 && rec.outcome == ENGINE_FAILED)
		return engine_op_finish(op, ENGINE_FAILED, r,
		        "recovering an interrupted operation failed, %s not started: %s", b->kind,
		        rec.message);
	if (b->to && !version_is_valid(b->to))
		return engine_op_finish(op, b->fail, -EINVAL, "invalid version '%s'", b->to);
	r = layout_open_root(app->root, b->create_root, &op->rootfd, &err);
	if (r < 0)
		return engine_op_finish(op, b->fail, r, "%s", err.msg);
	current[0] = 0;
	r = layout_read_current(op->rootfd, current);
	if (r < 0)
		return engine_op_finish(
		        op, b->fail, r, "%s/current is not a rollwave symlink", app->root);
	strbuf_printf(res->from, sizeof(res->from), "%s", current);
	*ret_ar = (struct app_record) {0};
	(void)state_get_app(e->state, app->name, ret_ar);
	return 0;
}
