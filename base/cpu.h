/* cpu.h — the instruction-set level the run-time dispatched fast paths use (base/cpu.c).
 * Internal header. */
#ifndef WBR_CPU_H
#define WBR_CPU_H

/* The instruction-set levels of the fast paths. PORTABLE is kernels.c's plain C (the reference;
 * the only level off x86-64); SSE2 is the x86-64 baseline; AVX2 also needs F16C; AVX512 is
 * AVX-512 F/BW/VL. Every level gives bit-identical results. */
enum { WBR_CPU_PORTABLE, WBR_CPU_SSE2, WBR_CPU_AVX2, WBR_CPU_AVX512 };

/* The level in force: the best this CPU has (detected once), lowered by the environment
 * variable WBR_CPU=portable|sse2|avx2|avx512 (read once; a testing and diagnosis knob). */
int wbr_cpu_level(void);

/* Test hook: force a level (capped at what the CPU has; negative = the best); returns the level
 * now in force. Not for concurrent use with running kernels. */
int wbr_cpu_set_level(int level);

const char *wbr_cpu_level_name(int level);

/* 1 if the CPU has PCLMULQDQ and SSE4.1 (base/crc32.c's folding), whatever the level. */
int wbr_cpu_has_pclmul(void);

#endif
