/* params.c — parameters at run time: the values a program's int lists hold once its parameters
 * are bound (docs/language.md, "Parameters"). Statements read every int list through vm_ints. */
#include "vm.h"

const int64_t *vm_ints(const vm *v, uint32_t i, uint32_t *n) {
  return wbr_program_ints(v->prog, i, n);
}
