// The last step of code generation: a generated ELF object into the blob the
// runtime loads (Target.h). A very small static linker: the sections are laid
// out one after another from offset 0 (the runtime maps the blob page
// aligned, so page-relative AArch64 relocations resolve as here), and only
// relocations whose result does not depend on where the blob is loaded are
// accepted.
#include "compiler/codegen/Target.h"
#include "format/Abi.h"
#include "format/Error.h"

#include "llvm/BinaryFormat/ELF.h"
#include "llvm/Object/ELFObjectFile.h"
#include "llvm/Object/ObjectFile.h"

#include <cstring>

namespace mcc {

namespace {

using llvm::object::ELFRelocationRef;
using llvm::object::SectionRef;

uint32_t read32(const uint8_t *p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
void write32(uint8_t *p, uint32_t v) { std::memcpy(p, &v, 4); }

void fitsSigned(int64_t v, int bits, const char *what) {
  if (v < -(int64_t(1) << (bits - 1)) || v >= (int64_t(1) << (bits - 1)))
    throw Error(cat("generated code: ", what, " relocation out of range"));
}

// Applies one relocation at p (blob offset P) for target address S + A.
void apply(bool x86, uint64_t type, uint8_t *p, int64_t P, int64_t SA) {
  using namespace llvm::ELF;
  if (x86) {
    switch (type) {
    case R_X86_64_PC32:
    case R_X86_64_PLT32:
      fitsSigned(SA - P, 32, "PC32");
      write32(p, uint32_t(int32_t(SA - P)));
      return;
    }
  } else {
    uint32_t insn = read32(p);
    int lo12Shift = -1;
    switch (type) {
    case R_AARCH64_PREL32:
      fitsSigned(SA - P, 32, "PREL32");
      write32(p, uint32_t(int32_t(SA - P)));
      return;
    case R_AARCH64_ADR_PREL_PG_HI21: {
      int64_t pages = ((SA & ~int64_t(0xFFF)) - (P & ~int64_t(0xFFF))) >> 12;
      fitsSigned(pages, 21, "ADRP");
      uint32_t imm = uint32_t(pages) & 0x1FFFFF;
      write32(p, (insn & ~((3u << 29) | (0x7FFFFu << 5))) | (imm & 3) << 29 | (imm >> 2) << 5);
      return;
    }
    case R_AARCH64_CALL26:
    case R_AARCH64_JUMP26:
      fitsSigned((SA - P) >> 2, 26, "branch");
      write32(p, (insn & ~0x3FFFFFFu) | (uint32_t((SA - P) >> 2) & 0x3FFFFFFu));
      return;
    case R_AARCH64_ADD_ABS_LO12_NC:
    case R_AARCH64_LDST8_ABS_LO12_NC: lo12Shift = 0; break;
    case R_AARCH64_LDST16_ABS_LO12_NC: lo12Shift = 1; break;
    case R_AARCH64_LDST32_ABS_LO12_NC: lo12Shift = 2; break;
    case R_AARCH64_LDST64_ABS_LO12_NC: lo12Shift = 3; break;
    case R_AARCH64_LDST128_ABS_LO12_NC: lo12Shift = 4; break;
    }
    if (lo12Shift >= 0) {
      uint32_t imm = uint32_t(SA & 0xFFF) >> lo12Shift;
      write32(p, (insn & ~(0xFFFu << 10)) | imm << 10);
      return;
    }
  }
  throw Error(cat("generated code: relocation type ", type, " is not position independent within the code"));
}

} // namespace

CodeBlob codeBlob(const std::string &object) {
  auto obj = llvm::object::ObjectFile::createObjectFile(llvm::MemoryBufferRef(object, "generated"));
  if (!obj)
    throw Error(cat("generated code: not an object: ", llvm::toString(obj.takeError())));
  auto *elf = llvm::dyn_cast<llvm::object::ELFObjectFileBase>(obj->get());
  if (!elf)
    throw Error("generated code: not an ELF object");
  bool x86 = elf->getArch() == llvm::Triple::x86_64;

  // Lay out .text first, then every other allocated section.
  std::map<uint64_t, uint64_t> base; // section index -> blob offset
  std::vector<SectionRef> placed;
  CodeBlob blob;
  auto place = [&](const SectionRef &s) {
    uint64_t align = std::max<uint64_t>(1, s.getAlignment().value());
    uint64_t at = (blob.text.size() + align - 1) / align * align;
    if (llvm::object::ELFSectionRef(s).getFlags() & llvm::ELF::SHF_WRITE)
      throw Error("generated code: it needs writable data, which the runtime does not provide");
    blob.text.resize(at);
    if (s.isBSS()) {
      blob.text.resize(at + s.getSize());
    } else {
      llvm::Expected<llvm::StringRef> c = s.getContents();
      if (!c)
        throw Error("generated code: cannot read a section");
      blob.text.insert(blob.text.end(), c->begin(), c->end());
    }
    base[s.getIndex()] = at;
    placed.push_back(s);
  };
  for (const SectionRef &s : elf->sections())
    if (s.isText() && s.getSize())
      place(s);
  if (placed.empty())
    throw Error("generated code: no .text section");
  // Unwind tables stay behind: nothing unwinds through generated frames.
  auto isUnwind = [](const SectionRef &s) {
    auto name = s.getName();
    return name && *name == ".eh_frame";
  };
  for (const SectionRef &s : elf->sections())
    if (!s.isText() && !isUnwind(s) && (llvm::object::ELFSectionRef(s).getFlags() & llvm::ELF::SHF_ALLOC) &&
        s.getSize())
      place(s);

  // Relocations live in their own sections (.rela.text, ...), each naming
  // the section it patches.
  for (const SectionRef &rs : elf->sections()) {
    auto patched = rs.getRelocatedSection();
    if (!patched || *patched == elf->section_end())
      continue;
    if (!base.count((*patched)->getIndex())) {
      if (!rs.relocations().empty() && !isUnwind(**patched) &&
          (llvm::object::ELFSectionRef(**patched).getFlags() & llvm::ELF::SHF_ALLOC))
        throw Error("generated code: relocations against a section it does not carry");
      continue;
    }
    uint64_t patchedBase = base[(*patched)->getIndex()];
    for (const llvm::object::RelocationRef &r : rs.relocations()) {
      auto sym = r.getSymbol();
      if (sym == elf->symbol_end())
        throw Error("generated code: a relocation without a symbol");
      auto name = sym->getName();
      auto symSection = sym->getSection();
      if (!symSection || *symSection == elf->section_end() || !base.count((*symSection)->getIndex()))
        throw Error(cat("generated code: it refers to '", name ? name->str() : "?",
                        "', which is outside it (it must reach the runtime only through McApi)"));
      auto value = sym->getValue();
      if (!value)
        throw Error("generated code: cannot read a symbol");
      auto addend = ELFRelocationRef(r).getAddend();
      if (!addend)
        throw Error("generated code: relocations must carry addends");
      int64_t S = int64_t(base[(*symSection)->getIndex()] + *value);
      int64_t P = int64_t(patchedBase + r.getOffset());
      if (r.getOffset() + 4 > (*patched)->getSize())
        throw Error("generated code: a relocation outside its section");
      apply(x86, r.getType(), blob.text.data() + P, P, S + *addend);
    }
  }

  for (const llvm::object::SymbolRef &sym : elf->symbols()) {
    auto name = sym.getName();
    auto type = sym.getType();
    auto sec = sym.getSection();
    auto value = sym.getValue();
    if (name && type && sec && value && *type == llvm::object::SymbolRef::ST_Function && name->starts_with(abi::kEntryPrefix) &&
        *sec != elf->section_end() && base.count((*sec)->getIndex()))
      blob.entries[name->str()] = base[(*sec)->getIndex()] + *value;
  }
  return blob;
}

} // namespace mcc
