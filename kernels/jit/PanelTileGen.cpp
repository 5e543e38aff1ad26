#include "kernels/jit/PanelTileGen.h"

#if defined(__x86_64__)
#include "format/Panel.h"
#include "kernels/Kernels.h"

#include <xbyak/xbyak.h>

#include <algorithm>
#include <cstring>

namespace mcc::kernels::jit {

namespace {

uint32_t bitsOf(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

} // namespace

// Registers:
//   rax panel, rsi xq, rdx xr (or xo when the offset is folded), rcx dx,
//   r8 sx (each advanced block by block),
//   r9 y, r10 ldy in bytes, r11 scratch, rdi the block count down to 0;
//   zmm0..TT-1 float sums; integer sums from zmm8 (lo, hi, and with the
//   second pass rlo, rhi: 2 TT or 4 TT of them, at most 16);
//   zmm24 chunk, zmm25/26 its low/high nibbles, zmm27 d, zmm28 m,
//   zmm29 the 0xF0 byte mask, zmm30/31 scratch; k1 the rows to store.
struct PanelTile::Gen : Xbyak::CodeGenerator {
  Gen(WeightFormat f, bool residual, int TT, int64_t K)
      : Xbyak::CodeGenerator(64 * 1024, Xbyak::DontSetProtectRWE) {
    using namespace Xbyak;
    const BlockShape s = blockShape(f);
    const int H = s.header, subs = s.weights / 32;
    const int64_t nb = K / s.weights, ns = K / 32;
    const bool q8 = f == WeightFormat::Q8_0, fold = foldsOffset(f, residual);
    const int groups = residual ? 4 : 2; // integer sums per token
    auto acc = [&](int kind, int t) { return Zmm(8 + kind * TT + t); }; // kind: 0 lo, 1 hi, 2 rlo, 3 rhi
    const Zmm w(24), wl(25), wh(26), d(27), m(28), mask(29), s0(30), s1(31);
    Label consts;

    mov(rax, ptr[rdi]);
    mov(rsi, ptr[rdi + 8]);
    mov(rdx, ptr[rdi + (fold ? 64 : 16)]);
    mov(rcx, ptr[rdi + 24]);
    mov(r8, ptr[rdi + 32]);
    mov(r9, ptr[rdi + 40]);
    mov(r10, ptr[rdi + 48]);
    shl(r10, 2);
    mov(r11, ptr[rdi + 56]);
    kmovw(k1, r11d);
    mov(edi, uint32_t(nb));
    mov(r11d, 0xF0F0F0F0u);
    vpbroadcastd(mask, r11d);
    for (int t = 0; t < TT; ++t)
      vxorps(Zmm(t), Zmm(t), Zmm(t));

    Label block;
    align(64);
    L(block);
    // Every line of the block as far ahead as the intrinsics tile, to the
    // same level (panelPrefetchToL1), a share before each 32 weights
    // (panelPrefetchLines).
    const int64_t ahead = panelPrefetchAhead(f, residual);
    auto prefetchShare = [&](int sub) {
      auto [from, to] = panelPrefetchLines(f, sub);
      for (int64_t o = from; o < to; o += 64) {
        if (panelPrefetchToL1(residual))
          prefetcht0(ptr[rax + ahead + o]);
        else
          prefetcht1(ptr[rax + ahead + o]);
      }
    };
    prefetchShare(0);
    // The 16 rows' scales (d pre-multiplied by the nibble scale) and offsets.
    if (f == WeightFormat::Q4_0 || q8) {
      vcvtph2ps(d, yword[rax]);
      if (!fold)
        vmulps(m, d, ptr_b[rip + consts + (q8 ? 4 : 0)]); // -128 or -8
    } else if (f == WeightFormat::Q4_1) {
      vmovdqu32(s0, ptr[rax]);
      vpmovdw(Ymm(27), s0);
      vcvtph2ps(d, Ymm(27));
      vpsrld(s0, s0, 16);
      vpmovdw(Ymm(28), s0);
      vcvtph2ps(m, Ymm(28));
    } else {
      vmovups(s0, ptr[rax]);
      vmovups(s1, ptr[rax + 64]);
      vmovdqu32(d, ptr[rip + consts + 16]);  // even lanes
      vmovdqu32(m, ptr[rip + consts + 80]);  // odd lanes
      vpermi2ps(d, s0, s1);
      vpermi2ps(m, s0, s1);
    }
    if (!q8)
      vmulps(d, d, ptr_b[rip + consts + 8]); // 1/16
    for (int sub = 0; sub < subs; ++sub) {
      if (sub > 0)
        prefetchShare(sub);
      for (int g = 0; g < groups; ++g)
        for (int t = 0; t < TT; ++t) {
          if (fold) // the offset, in the units of the sums (16 q, or q + 128)
            vpbroadcastd(acc(g, t), ptr[rdx + ((t * ns + sub) * 2 + g) * 4]);
          else
            vpxord(acc(g, t), acc(g, t), acc(g, t));
        }
      const int nib = kPanelRows * H + sub * 256;
      for (int c = 0; c < (q8 ? 8 : 4); ++c) {
        vmovdqu64(w, ptr[rax + nib + 64 * c]);
        if (!q8) {
          vpsllw(wl, w, 4);
          vpandd(wl, wl, mask);
          vpandd(wh, w, mask);
        }
        for (int t = 0; t < TT; ++t) {
          const int64_t at = t * K + sub * 32 + 4 * c;
          if (q8) {
            vpdpbusd(acc(c < 4 ? 0 : 1, t), w, ptr_b[rsi + at]);
            if (residual)
              vpdpbusd(acc(c < 4 ? 2 : 3, t), w, ptr_b[rdx + at]);
          } else {
            vpdpbusd(acc(0, t), wl, ptr_b[rsi + at]);
            vpdpbusd(acc(1, t), wh, ptr_b[rsi + at + 16]);
            if (residual) {
              vpdpbusd(acc(2, t), wl, ptr_b[rdx + at]);
              vpdpbusd(acc(3, t), wh, ptr_b[rdx + at + 16]);
            }
          }
        }
      }
      // Per token, as PanelEngine::tile: l and u under their activation
      // scales, then the weight scale and the offset.
      for (int t = 0; t < TT; ++t) {
        const Zmm l = acc(0, t), u = acc(1, t);
        vcvtdq2ps(l, l);
        vcvtdq2ps(u, u);
        if (residual) {
          vcvtdq2ps(acc(2, t), acc(2, t));
          vcvtdq2ps(acc(3, t), acc(3, t));
          vfmadd231ps(l, acc(2, t), ptr_b[rip + consts + 12]); // 1/254
          vfmadd231ps(u, acc(3, t), ptr_b[rip + consts + 12]);
        }
        const int64_t dxAt = ((t * ns + sub) * 2) * 4, sxAt = (t * ns + sub) * 4;
        vmulps(s0, u, ptr_b[rcx + dxAt + 4]);
        vfmadd231ps(s0, l, ptr_b[rcx + dxAt]);
        vfmadd231ps(Zmm(t), s0, d);
        if (!fold)
          vfmadd231ps(Zmm(t), m, ptr_b[r8 + sxAt]);
      }
    }
    add(rax, kPanelRows * s.bytes);
    add(rsi, s.weights);
    if (residual)
      add(rdx, s.weights);
    else if (fold)
      add(rdx, subs * 8);
    add(rcx, subs * 8);
    add(r8, subs * 4);
    dec(edi);
    jnz(block, T_NEAR);

    mov(r11, r9);
    for (int t = 0; t < TT; ++t) {
      vmovups(ptr[r11] | k1, Zmm(t));
      if (t + 1 < TT)
        add(r11, r10);
    }
    vzeroupper();
    ret();

    align(64);
    L(consts);
    dd(bitsOf(-8.0f));         // +0
    dd(bitsOf(-128.0f));       // +4
    dd(bitsOf(1.0f / 16.0f));  // +8
    dd(bitsOf(1.0f / 254.0f)); // +12: kResidualScale
    for (int i = 0; i < 16; ++i) // +16: even lanes of two vectors
      dd(uint32_t(2 * i));
    for (int i = 0; i < 16; ++i) // +80: odd lanes
      dd(uint32_t(2 * i + 1));
  }
};

PanelTile::PanelTile(WeightFormat f, bool residual, int tokens, int64_t K)
    : gen_(new Gen(f, residual, tokens, K)) {
  gen_->setProtectModeRE(); // written: now read + execute, never writable again
  fn_ = gen_->getCode<TileFn>();
  bytes_ = gen_->getSize();
}

PanelTile::~PanelTile() {
  gen_->setProtectModeRW(false); // the allocator frees writable memory
  delete gen_;
}

} // namespace mcc::kernels::jit
#endif
