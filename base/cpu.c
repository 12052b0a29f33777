/* cpu.c — which instruction-set level the fast paths may use (apply/kernels_x86.c, the CRC-32
 * in base/crc32.c): detected once with __builtin_cpu_supports, lowered by WBR_CPU or by the test
 * hook wbr_cpu_set_level. In base/ so that every layer can ask. */
#include "base/cpu.h"

#include <stdlib.h>
#include <string.h>

/* ---- Which level: detected once, capped by WBR_CPU ------------------------------------------ */

static const char *const level_names[] = {"portable", "sse2", "avx2", "avx512"};

const char *wbr_cpu_level_name(int level) {
  return level >= 0 && level <= WBR_CPU_AVX512 ? level_names[level] : "?";
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
static int detect_level(void) {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx2") &&
      __builtin_cpu_supports("f16c"))
    return WBR_CPU_AVX512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("f16c")) return WBR_CPU_AVX2;
  return WBR_CPU_SSE2; /* baseline of x86-64 */
}
#else
static int detect_level(void) { return WBR_CPU_PORTABLE; }
#endif

/* The machine's level; the level in force (cached) may be lower: WBR_CPU or the test hook. */
static int supported_level(void) {
  static int supported = -1;
  int s = __atomic_load_n(&supported, __ATOMIC_ACQUIRE);
  if (s < 0) {
    s = detect_level();
    __atomic_store_n(&supported, s, __ATOMIC_RELEASE);
  }
  return s;
}

static int level_in_force = -1;

int wbr_cpu_set_level(int level) {
  int s = supported_level();
  int l = level < 0 ? s : level < s ? level : s;
  __atomic_store_n(&level_in_force, l, __ATOMIC_RELEASE);
  return l;
}

int wbr_cpu_level(void) {
  int l = __atomic_load_n(&level_in_force, __ATOMIC_ACQUIRE);
  if (l >= 0) return l;
  int want = -1;
  const char *env = getenv("WBR_CPU"); /* a testing and diagnosis knob, read once */
  for (int i = 0; env && i <= WBR_CPU_AVX512; i++)
    if (strcmp(env, level_names[i]) == 0) want = i;
  return wbr_cpu_set_level(want);
}

