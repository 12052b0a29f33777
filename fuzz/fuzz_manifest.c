/* fuzz_manifest.c — libFuzzer target for the JSON manifest reader (`make fuzz`); the checks are in
 * fuzz_set.h. */
#include "fuzz_set.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return fuzz_tensorset(data, size, "fuzz.json"); }
