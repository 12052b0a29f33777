/* packed.h — the packed transpose loop, shared by kernels.c (4- and 8-byte elements, SSE2
 * micro-blocks) and kernels_x86.c (2-byte elements, AVX2 16 x 16 micro-blocks): one definition
 * of the tiling, edges and streaming write-out, instantiated per element size and micro-block.
 * Internal to apply/. */
#ifndef WBR_APPLY_PACKED_H
#define WBR_APPLY_PACKED_H

#include <string.h>

#include "kernels.h"

/* The tile of every element size: source runs of WBR_PACK_A_BYTES, destination runs of
 * WBR_PACK_B_BYTES, so the buffer is 128 KiB / ES (64 KiB at most). Of the runs tried (source
 * 128..2048 bytes, destination 64..1024; bench/ops_bench.c, best of 4-6 alternating runs, load
 * 0.4-3) 512 x 256 was fastest for F32 4096^2 (16.0 GB/s on 1 thread, 27.6 on 2; the 256 x
 * 1024 used before: 11.5 and 20.1; the unpacked portable code 14.3 and 27.2), F16 8192^2 (18.0
 * vs 13.3 unpacked, 26.3 vs 20.3) and BF16 4096x11008 (18.1 vs 15.6, 29.4 vs 22.0). */
#ifndef WBR_PACK_A_BYTES
#define WBR_PACK_A_BYTES 512
#endif
#ifndef WBR_PACK_B_BYTES
#define WBR_PACK_B_BYTES 256
#endif

/* Element (ib, ia) moves from src[ib*sb + ia] to dst[ia*da + ib] (sb, da in elements). A tile of
 * TA destination rows by TB destination columns is transposed into a stack buffer of TA * TB * ES
 * bytes that stays in L1/L2 (each source row read as a TA * ES-byte run), then written out row
 * by row, TB * ES bytes at a time, as whole lines with streaming stores (wbr_stream_rows: no
 * read-for-ownership of the destination). MICRO(d, s, sbb, dab) transposes one V x V block (row
 * strides in bytes); the edges that do not fill one go element by element. ATTR is the
 * function's target attribute (or nothing). The caller fences (wbr_stream_fence). */
#define WBR_DEFINE_PACKED(ATTR, NAME, ES, V, MICRO)                                            \
  ATTR static void NAME(uint8_t *dst, const uint8_t *src, int64_t na, int64_t nb, int64_t sb,  \
                        int64_t da) {                                                          \
    enum { TA = WBR_PACK_A_BYTES / (ES), TB = WBR_PACK_B_BYTES / (ES), BS = TB * (ES) };       \
    _Alignas(64) uint8_t buf[TA * BS];                                                         \
    for (int64_t ia0 = 0; ia0 < na; ia0 += TA) {                                               \
      const int64_t ta = na - ia0 < TA ? na - ia0 : TA, fa = ta - ta % (V);                    \
      for (int64_t ib0 = 0; ib0 < nb; ib0 += TB) {                                             \
        const int64_t tb = nb - ib0 < TB ? nb - ib0 : TB, fb = tb - tb % (V);                  \
        const uint8_t *s = src + (ib0 * sb + ia0) * (ES);                                      \
        for (int64_t b = 0; b < fb; b += (V))                                                  \
          for (int64_t a = 0; a < fa; a += (V))                                                \
            MICRO(buf + a * BS + b * (ES), s + (b * sb + a) * (ES), sb * (ES), BS);            \
        for (int64_t b = 0; b < tb; b++)                                                       \
          for (int64_t a = fa; a < ta; a++)                                                    \
            memcpy(buf + a * BS + b * (ES), s + (b * sb + a) * (ES), (ES));                    \
        for (int64_t a = 0; a < fa; a++)                                                       \
          for (int64_t b = fb; b < tb; b++)                                                    \
            memcpy(buf + a * BS + b * (ES), s + (b * sb + a) * (ES), (ES));                    \
        wbr_stream_rows(dst + (ia0 * da + ib0) * (ES), (size_t)(da * (ES)), buf, BS,           \
                        (size_t)ta, (size_t)(tb * (ES)));                                      \
      }                                                                                        \
    }                                                                                          \
  }

#endif
