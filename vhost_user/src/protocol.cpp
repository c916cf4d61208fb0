// SPDX-License-Identifier: Apache-2.0
#include "vlb/vu/protocol.h"

namespace vlb::vu {
namespace {

constexpr std::uint32_t kU64 = sizeof(std::uint64_t);
constexpr std::uint32_t kState = sizeof(VringState);

constexpr RequestShape none(bool reply = false) { return {0, 0, 0, 0, reply}; }
constexpr RequestShape fixed(std::uint32_t size, bool reply = false, std::uint8_t fds = 0)
{
	return {size, size, fds, fds, reply};
}

} // namespace

std::optional<RequestShape> request_shape(std::uint32_t code)
{
	switch (static_cast<Request>(code)) {
	case Request::GetFeatures:
	case Request::GetProtocolFeatures:
	case Request::GetQueueNum:
	case Request::GetMaxMemSlots:
	case Request::GetStatus:
		return none(true);
	case Request::SetOwner:
	case Request::ResetOwner:
	case Request::ResetDevice:
		return none();
	case Request::SetFeatures:
	case Request::SetProtocolFeatures:
	case Request::SetStatus:
		return fixed(kU64);
	case Request::SetMemTable:
		// Exact size and fd count are checked against nregions.
		return RequestShape{sizeof(MemTableHeader) + sizeof(MemRegion),
				    sizeof(MemTableHeader) + kMaxMemRegions * sizeof(MemRegion), 1,
				    kMaxMemRegions, false};
	case Request::AddMemReg:
		return fixed(sizeof(SingleMemRegion), false, 1);
	case Request::RemMemReg:
		// QEMU passes the region's fd again; it is accepted and closed.
		return RequestShape{sizeof(SingleMemRegion), sizeof(SingleMemRegion), 0, 1, false};
	case Request::SetVringNum:
	case Request::SetVringBase:
	case Request::SetVringEnable:
		return fixed(kState);
	case Request::GetVringBase:
		return fixed(kState, true);
	case Request::SetVringAddr:
		return fixed(sizeof(VringAddr));
	case Request::SetVringKick:
	case Request::SetVringCall:
	case Request::SetVringErr:
		// The fd is optional: kVringNoFd in the payload says which.
		return RequestShape{kU64, kU64, 0, 1, false};
	case Request::SetBackendReqFd:
		return fixed(0, false, 1);
	case Request::GetConfig:
		return RequestShape{sizeof(ConfigHeader), sizeof(ConfigHeader) + kMaxConfigSize, 0,
				    0, true};
	case Request::SetConfig:
		return RequestShape{sizeof(ConfigHeader), sizeof(ConfigHeader) + kMaxConfigSize, 0,
				    0, false};
	case Request::GetInflightFd:
		return fixed(sizeof(InflightInfo), true);
	case Request::SetInflightFd:
		return fixed(sizeof(InflightInfo), false, 1);
	default:
		return std::nullopt;
	}
}

std::optional<RequestShape> reply_shape(std::uint32_t code)
{
	switch (static_cast<Request>(code)) {
	case Request::GetFeatures:
	case Request::GetProtocolFeatures:
	case Request::GetQueueNum:
	case Request::GetMaxMemSlots:
	case Request::GetStatus:
		return fixed(kU64);
	case Request::GetVringBase:
		return fixed(kState);
	case Request::GetConfig:
		return RequestShape{sizeof(ConfigHeader), sizeof(ConfigHeader) + kMaxConfigSize, 0,
				    0, false};
	case Request::GetInflightFd:
		return fixed(sizeof(InflightInfo), false, 1);
	default:
		// REPLY_ACK: a u64 status for every other request.
		if (request_shape(code))
			return fixed(kU64);
		return std::nullopt;
	}
}

std::string_view request_name(std::uint32_t code)
{
	switch (static_cast<Request>(code)) {
	case Request::GetFeatures: return "GET_FEATURES";
	case Request::SetFeatures: return "SET_FEATURES";
	case Request::SetOwner: return "SET_OWNER";
	case Request::ResetOwner: return "RESET_OWNER";
	case Request::SetMemTable: return "SET_MEM_TABLE";
	case Request::SetLogBase: return "SET_LOG_BASE";
	case Request::SetLogFd: return "SET_LOG_FD";
	case Request::SetVringNum: return "SET_VRING_NUM";
	case Request::SetVringAddr: return "SET_VRING_ADDR";
	case Request::SetVringBase: return "SET_VRING_BASE";
	case Request::GetVringBase: return "GET_VRING_BASE";
	case Request::SetVringKick: return "SET_VRING_KICK";
	case Request::SetVringCall: return "SET_VRING_CALL";
	case Request::SetVringErr: return "SET_VRING_ERR";
	case Request::GetProtocolFeatures: return "GET_PROTOCOL_FEATURES";
	case Request::SetProtocolFeatures: return "SET_PROTOCOL_FEATURES";
	case Request::GetQueueNum: return "GET_QUEUE_NUM";
	case Request::SetVringEnable: return "SET_VRING_ENABLE";
	case Request::SendRarp: return "SEND_RARP";
	case Request::NetSetMtu: return "NET_SET_MTU";
	case Request::SetBackendReqFd: return "SET_BACKEND_REQ_FD";
	case Request::IotlbMsg: return "IOTLB_MSG";
	case Request::SetVringEndian: return "SET_VRING_ENDIAN";
	case Request::GetConfig: return "GET_CONFIG";
	case Request::SetConfig: return "SET_CONFIG";
	case Request::CreateCryptoSession: return "CREATE_CRYPTO_SESSION";
	case Request::CloseCryptoSession: return "CLOSE_CRYPTO_SESSION";
	case Request::PostcopyAdvise: return "POSTCOPY_ADVISE";
	case Request::PostcopyListen: return "POSTCOPY_LISTEN";
	case Request::PostcopyEnd: return "POSTCOPY_END";
	case Request::GetInflightFd: return "GET_INFLIGHT_FD";
	case Request::SetInflightFd: return "SET_INFLIGHT_FD";
	case Request::GpuSetSocket: return "GPU_SET_SOCKET";
	case Request::ResetDevice: return "RESET_DEVICE";
	case Request::VringKick: return "VRING_KICK";
	case Request::GetMaxMemSlots: return "GET_MAX_MEM_SLOTS";
	case Request::AddMemReg: return "ADD_MEM_REG";
	case Request::RemMemReg: return "REM_MEM_REG";
	case Request::SetStatus: return "SET_STATUS";
	case Request::GetStatus: return "GET_STATUS";
	}
	return "UNKNOWN";
}

} // namespace vlb::vu
