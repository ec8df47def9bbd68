// Rings in a guest's linear memory (wit/ABI.md "Rings"). The guest is not trusted:
// every call re-reads and re-validates the header and every slot it touches, and all
// arithmetic is done in 64 bits against the memory size given for this call (memory
// can grow between calls; the caller passes the current data pointer and size).
//
// Error convention: 0/positive = success; -EFAULT = something points outside memory;
// -EINVAL = a field has an impossible value. The message (errors.h) names the ring, the
// field and the value: "ring corrupted: tx slot 3 buf=0xfffff000 outside memory (size
// 0x110000)".
#pragma once
#include <cstdint>
#include <cstring>

namespace msh {

struct GuestMemory {
  uint8_t* data;
  uint64_t size;
};

constexpr uint32_t kRingHeaderBytes = 32;
constexpr uint32_t kRingSlotBytes = 16;
constexpr uint32_t kRingMaxSlots = 4096;
constexpr uint32_t kRingMinSlotSize = 2048;
constexpr uint32_t kRingMaxSlotSize = 65535;
// Frames moved per backend call / per validation batch.
constexpr uint32_t kBatch = 256;

enum RingField : uint32_t { kRingHead = 0, kRingTail = 4, kRingNumSlots = 8, kRingSlotSize = 12 };
enum SlotField : uint32_t { kSlotLen = 0, kSlotFlags = 4, kSlotBuf = 8 };

struct RingHeader {
  uint32_t head, tail, num_slots, slot_size;
  uint8_t* slots;  // first slot descriptor
};

inline uint32_t ld32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;  // little-endian host (x86-64, arm64)
}
inline void st32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }

// Reads and validates the header at `off`; `which` is "rx" or "tx" for messages.
int ring_open(const GuestMemory& m, uint32_t off, const char* which, RingHeader* h);
// Formats the message for a bad slot and returns its code (cold path of ring_slot).
[[gnu::cold, gnu::noinline]] int ring_slot_error(const GuestMemory& m, const RingHeader& h,
                                                 uint32_t slot, const char* which, uint32_t buf,
                                                 uint32_t len);

// Reads slot descriptor `index` (a free-running ring index) and validates its buffer
// range, and its len against slot_size when check_len (TX).
inline int ring_slot(const GuestMemory& m, const RingHeader& h, uint32_t index, const char* which,
                     bool check_len, uint8_t** desc, uint32_t* buf, uint32_t* len) {
  const uint32_t s = index & (h.num_slots - 1);
  uint8_t* d = h.slots + size_t(s) * kRingSlotBytes;
  const uint32_t b = ld32(d + kSlotBuf);
  const uint32_t l = ld32(d + kSlotLen);
  if (uint64_t(b) + h.slot_size > m.size || (check_len && l > h.slot_size)) [[unlikely]]
    return ring_slot_error(m, h, s, which, b, l);
  *desc = d;
  *buf = b;
  *len = l;
  return 0;
}
// Full check of a ring (header and every slot's buffer), for use right after init.
int ring_check_all(const GuestMemory& m, uint32_t off, const char* which);

}  // namespace msh
