// SPDX-License-Identifier: Apache-2.0
// What a campaign did, counted by every process of it in one shared page.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>

namespace vlb::hostile {

enum class Count : std::size_t {
	actors,
	creates,
	creates_refused,
	driver_ok,
	messages,
	answered,
	answered_wrong,
	answered_late,
	ignored,
	completed,
	garbage_used,
	calls,
	call_ioctls,
	interrupts,
	eventfd_swaps,
	copies,
	copies_done,
	config_updates,
	reattaches,
	reattached,
	touches,
	forks,
	kills,
	sigbus,
	user_reads,
	user_reads_ok,
	user_writes,
	port_messages,
	kNumber
};

inline constexpr std::array<const char *, static_cast<std::size_t>(Count::kNumber)> kCountNames = {
	"actors            hostile device processes started",
	"creates           devices created",
	"creates_refused   CREATEs refused (bad parameters or config, a name in use)",
	"driver_ok         drivers that reached DRIVER_OK",
	"messages          control messages read",
	"answered          answered correctly",
	"answered_wrong    answered with an error or garbage",
	"answered_late     answered late",
	"ignored           never answered",
	"completed         requests completed correctly",
	"garbage_used      garbage used entries or indexes written",
	"calls             call eventfd signals",
	"call_ioctls       VLB_IOVA_CALLs",
	"interrupts        VLB_DEV_VQ_INTERRUPTs",
	"eventfd_swaps     kick or call eventfds set or cleared",
	"copies            VLB_IOVA_COPYs tried",
	"copies_done       of those, transferred something",
	"config_updates    VLB_DEV_CONFIG_UPDATEs tried",
	"reattaches        REATTACHes of other devices tried",
	"reattached        of those, succeeded",
	"touches           IOVA pages touched from forked children",
	"forks             children holding inherited fds",
	"kills             hostile processes SIGKILLed",
	"sigbus            hostile processes that died of SIGBUS",
	"user_reads        application reads of disks and /dev/hwrng",
	"user_reads_ok     of those, succeeded",
	"user_writes       application writes to console ports and /dev/hvc*",
	"port_messages     console PORT_ADD/PORT_REMOVE/PORT_OPEN messages sent",
};

inline constexpr std::size_t kMaxSlots = 64;

// Lives in MAP_SHARED memory: every forked process of a campaign adds here.
struct Counters {
	std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(Count::kNumber)> value{};
	// The generation each slot runs now, so that a process can aim a
	// REATTACH at another's device.
	std::array<std::atomic<unsigned>, kMaxSlots> slot_generation{};

	void add(Count c, std::uint64_t n = 1) { value.at(static_cast<std::size_t>(c)).fetch_add(n); }
	[[nodiscard]] std::uint64_t get(Count c) const { return value.at(static_cast<std::size_t>(c)).load(); }
	void print(std::FILE *to) const
	{
		for (std::size_t i = 0; i < value.size(); ++i)
			std::fprintf(to, "count %10llu  %s\n", static_cast<unsigned long long>(value.at(i).load()),
				     kCountNames.at(i));
	}
};
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

} // namespace vlb::hostile
