/* match.h — the matcher's entry point (`wbr match`): pair every target tensor with its source(s),
 * generalise the pairs into a short rule file, prove the rules with the planner, and return the
 * draft text, the evidence and the verdict. The API itself (wbr_match_run and its option and
 * result types) is public, in weightbridge.h. See docs/matcher.md for how it decides. */
#ifndef WBR_MATCH_H
#define WBR_MATCH_H

#include <stdbool.h>
#include <stddef.h>

#include "../include/weightbridge.h"

#endif
