// SPDX-License-Identifier: Apache-2.0
// vhost-user wire format (QEMU docs/interop/vhost-user.rst): request codes,
// flags, payload layouts and the per-request shape table both sides check
// every message against. Little-endian hosts only, like the spec's users.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace vlb::vu {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "vhost-user is little-endian here");

// Front-end to back-end requests.
enum class Request : std::uint32_t {
	GetFeatures = 1,
	SetFeatures = 2,
	SetOwner = 3,
	ResetOwner = 4,
	SetMemTable = 5,
	SetLogBase = 6,
	SetLogFd = 7,
	SetVringNum = 8,
	SetVringAddr = 9,
	SetVringBase = 10,
	GetVringBase = 11,
	SetVringKick = 12,
	SetVringCall = 13,
	SetVringErr = 14,
	GetProtocolFeatures = 15,
	SetProtocolFeatures = 16,
	GetQueueNum = 17,
	SetVringEnable = 18,
	SendRarp = 19,
	NetSetMtu = 20,
	SetBackendReqFd = 21,
	IotlbMsg = 22,
	SetVringEndian = 23,
	GetConfig = 24,
	SetConfig = 25,
	CreateCryptoSession = 26,
	CloseCryptoSession = 27,
	PostcopyAdvise = 28,
	PostcopyListen = 29,
	PostcopyEnd = 30,
	GetInflightFd = 31,
	SetInflightFd = 32,
	GpuSetSocket = 33,
	ResetDevice = 34,
	VringKick = 35,
	GetMaxMemSlots = 36,
	AddMemReg = 37,
	RemMemReg = 38,
	SetStatus = 39,
	GetStatus = 40,
};

// Back-end to front-end requests, on the SET_BACKEND_REQ_FD channel.
enum class BackendRequest : std::uint32_t {
	IotlbMsg = 1,
	ConfigChangeMsg = 2,
	VringHostNotifierMsg = 3,
};

// Protocol feature bit numbers.
namespace pf {
inline constexpr unsigned kMq = 0;
inline constexpr unsigned kLogShmfd = 1;
inline constexpr unsigned kRarp = 2;
inline constexpr unsigned kReplyAck = 3;
inline constexpr unsigned kMtu = 4;
inline constexpr unsigned kBackendReq = 5;
inline constexpr unsigned kCrossEndian = 6;
inline constexpr unsigned kCryptoSession = 7;
inline constexpr unsigned kPagefault = 8;
inline constexpr unsigned kConfig = 9;
inline constexpr unsigned kBackendSendFd = 10;
inline constexpr unsigned kHostNotifier = 11;
inline constexpr unsigned kInflightShmfd = 12;
inline constexpr unsigned kResetDevice = 13;
inline constexpr unsigned kInbandNotifications = 14;
inline constexpr unsigned kConfigureMemSlots = 15;
inline constexpr unsigned kStatus = 16;
} // namespace pf

constexpr std::uint64_t bit(unsigned n) { return std::uint64_t{1} << n; }

// Virtio feature bit that says the back-end speaks protocol features.
inline constexpr unsigned kFProtocolFeatures = 30;

// Header flags.
inline constexpr std::uint32_t kVersionMask = 0x3;
inline constexpr std::uint32_t kVersion = 0x1;
inline constexpr std::uint32_t kFlagReply = 1U << 2;
inline constexpr std::uint32_t kFlagNeedReply = 1U << 3;

// SET_VRING_KICK/CALL/ERR payload: queue index and "no fd" flag.
inline constexpr std::uint64_t kVringIndexMask = 0xff;
inline constexpr std::uint64_t kVringNoFd = 1U << 8;

// The spec's fixed table size for SET_MEM_TABLE.
inline constexpr std::uint32_t kMaxMemRegions = 8;
// Upper bound of GET/SET_CONFIG's payload (virtio config spaces are small).
inline constexpr std::uint32_t kMaxConfigSize = 256;

struct Header {
	std::uint32_t request;
	std::uint32_t flags;
	std::uint32_t size;
};
static_assert(sizeof(Header) == 12);

struct VringState {
	std::uint32_t index;
	std::uint32_t num;
};

struct VringAddr {
	std::uint32_t index;
	std::uint32_t flags;
	std::uint64_t desc_user_addr;
	std::uint64_t used_user_addr;
	std::uint64_t avail_user_addr;
	std::uint64_t log_guest_addr;
};
static_assert(sizeof(VringAddr) == 40);

struct MemRegion {
	std::uint64_t guest_addr;
	std::uint64_t size;
	std::uint64_t user_addr;
	std::uint64_t mmap_offset;
};
static_assert(sizeof(MemRegion) == 32);

struct MemTableHeader {
	std::uint32_t nregions;
	std::uint32_t padding;
	// followed by nregions MemRegion entries
};

struct SingleMemRegion {
	std::uint64_t padding;
	MemRegion region;
};
static_assert(sizeof(SingleMemRegion) == 40);

struct ConfigHeader {
	std::uint32_t offset;
	std::uint32_t size;
	std::uint32_t flags;
	// followed by size bytes of config space
};

struct InflightInfo {
	std::uint64_t mmap_size;
	std::uint64_t mmap_offset;
	std::uint16_t num_queues;
	std::uint16_t queue_size;
	std::uint8_t padding[4];
};
static_assert(sizeof(InflightInfo) == 24);

// Largest payload any supported request carries.
inline constexpr std::uint32_t kMaxPayload =
	std::max<std::uint32_t>(sizeof(MemTableHeader) + kMaxMemRegions * sizeof(MemRegion),
				sizeof(ConfigHeader) + kMaxConfigSize);

// What a well-formed message of one request type looks like.
struct RequestShape {
	std::uint32_t min_size;  // payload bytes
	std::uint32_t max_size;
	std::uint8_t min_fds;
	std::uint8_t max_fds;
	bool has_reply;          // the back-end answers even without NEED_REPLY
};

// Shape of front-end request |code| as this project implements it;
// nullopt for requests it does not support.
std::optional<RequestShape> request_shape(std::uint32_t code);
// Shape of the back-end's reply to |code| (payload size bounds, fds).
std::optional<RequestShape> reply_shape(std::uint32_t code);

std::string_view request_name(std::uint32_t code);

} // namespace vlb::vu
