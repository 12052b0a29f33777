/* cpu.c — which instruction-set level the fast paths may use (apply/kernels_x86.c, the CRC-32
 * in base/crc32.c): detected once with CPUID, lowered by WBR_CPU or by the test
 * hook wbr_cpu_set_level. In base/ so that every layer can ask. */
#include "base/cpu.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* ---- Which level: detected once, capped by WBR_CPU ------------------------------------------ */

static const char *const level_names[] = {"portable", "sse2", "avx2", "avx512"};

const char *wbr_cpu_level_name(int level) {
  return level >= 0 && level <= WBR_CPU_AVX512 ? level_names[level] : "?";
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>

/* CPUID and XGETBV read directly (the Intel SDM's bits), not __builtin_cpu_supports: clang 14
 * knows no "f16c" there, and the OS must also save the wide registers (XCR0), which CPUID's
 * feature bits alone do not say. */
static unsigned long long xcr0(void) {
  unsigned lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return ((unsigned long long)hi << 32) | lo;
}

static int detect_level(void) {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return WBR_CPU_SSE2;
  bool osxsave = c >> 27 & 1, avx = c >> 28 & 1, f16c = c >> 29 & 1;
  if (!osxsave || !avx || !f16c) return WBR_CPU_SSE2; /* baseline of x86-64 */
  unsigned long long x = xcr0();
  if ((x & 0x6) != 0x6) return WBR_CPU_SSE2; /* XMM and YMM state not enabled by the OS */
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return WBR_CPU_SSE2;
  bool avx2 = b >> 5 & 1, avx512f = b >> 16 & 1, avx512bw = b >> 30 & 1, avx512vl = b >> 31 & 1;
  if (!avx2) return WBR_CPU_SSE2;
  if (avx512f && avx512bw && avx512vl && (x & 0xe6) == 0xe6) return WBR_CPU_AVX512; /* + opmask, ZMM */
  return WBR_CPU_AVX2;
}

int wbr_cpu_has_pclmul(void) {
  unsigned a, b, c, d;
  return __get_cpuid(1, &a, &b, &c, &d) && (c >> 1 & 1) && (c >> 19 & 1); /* PCLMULQDQ, SSE4.1 */
}
#else
static int detect_level(void) { return WBR_CPU_PORTABLE; }
int wbr_cpu_has_pclmul(void) { return 0; }
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

