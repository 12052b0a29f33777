/* mjson.h — json.c: the match result as JSON (wbr_match_result.json). The matcher collects each
 * draft's unresolved targets and REVIEW pairs while its state lives, then the result is printed
 * once the counts are final. */
#ifndef WBR_MJSON_H
#define WBR_MJSON_H

#include <stdbool.h>

#include "mint.h"

typedef struct mjson {
  struct cJSON *unresolved, *review; /* arrays of entries */
  bool oom;
} mjson;

void m_json_init(mjson *j);
void m_json_free(mjson *j);
/* Forget what was collected (a draft made again). */
void m_json_reset(mjson *j);
/* Append m's unresolved targets and its decisions on names alone. */
void m_json_collect(mjson *j, const matcher *m);
/* The result object (schema in docs/matcher.md); the arrays move into it. NULL when out of memory. */
char *m_json_result(mjson *j, const wbr_match_result *r);

#endif
