/* The signing log's internals, for its tests. */
#ifndef CG_SIGNLOG_INTERNAL_H
#define CG_SIGNLOG_INTERNAL_H

/* The SQL of the traceback queries, i from 0 until NULL: their plans must
 * search indexes, never scan the table. */
const char *cg__signlog_sql(int i);

#endif
