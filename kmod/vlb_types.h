/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/*
 * The device types the module serves, and everything the transport does
 * differently per type: one table, so that adding a type is one entry.
 *
 * Plain C like vlb_abi_check.c: user space compiles it too, so the fuzz
 * targets check the very config validation the kernel runs.
 */
#ifndef VLB_TYPES_H
#define VLB_TYPES_H

#ifdef __KERNEL__
#include <linux/types.h>
#else
#include <stdbool.h>
#include <stdint.h>
#endif

#include <linux/virtio_loopback.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bytes [@off, @off + @len) of a config space. */
struct vlb_cfg_range {
	__u16 off, len;
};

/*
 * How the transport ends the requests of a broken or removed device, so
 * that no driver waits on it. A driver must be able to tell the failure
 * from data, and must not add the buffer back to be failed again.
 */
enum vlb_fail_mode {
	/*
	 * Break the virtqueues: the driver gets no buffer back and its
	 * busy-waits end; its remove reclaims the buffers. For drivers that
	 * would take any used buffer for data (virtio_console, virtio_input).
	 */
	VLB_FAIL_BY_BREAKING = 0,
	/* VIRTIO_BLK_S_IOERR in the status byte the driver reads. */
	VLB_FAIL_BY_STATUS_BYTE,
	/*
	 * A used length of 0, which virtio_rng reads as "interrupted, no
	 * data" and returns from its read. Breaking would not do: a read
	 * waiting for the buffer holds the hwrng core's reading_mutex, which
	 * the same device's probe may be waiting for, and removal waits for
	 * the probe before the driver's remove can end the read.
	 */
	VLB_FAIL_BY_EMPTY_BUFFER,
};

struct vlb_type {
	__u32 device_id;		/* VIRTIO_ID_* */
	const char *name;
	/*
	 * The stock driver only ever sleeps while it waits for the device,
	 * so completions may run on the signalling CPU (vlb_transport.c,
	 * vlb_call_wakeup); drivers that spin must not get them there.
	 */
	bool waits_by_sleeping;
	/* How requests of a broken device end (vlb_vq_fail_inflight()). */
	enum vlb_fail_mode fail_mode;
	/*
	 * Request deadline: a request of a queue that has one and is not
	 * completed in time breaks the device. 0 for types without. A
	 * CREATE may choose up to @timeout_max_ms; 0 selects the default.
	 */
	__u32 timeout_default_ms;
	__u32 timeout_max_ms;
	/* Whether queue @index has the deadline (NULL: every queue). */
	bool (*queue_has_deadline)(__u32 index);
	/*
	 * Whether a used length the device reports for queue @index is one
	 * the driver survives (beyond fitting the chain, which is always
	 * checked); NULL: any.
	 */
	bool (*used_len_ok)(__u32 index, __u32 len);
	/*
	 * The config space is a window (virtio_input): the driver writes a
	 * selection to bytes 0-1 and reads the device's answer after it.
	 * Those bytes are the driver's alone, and a new selection clears the
	 * answer to the last one, so the driver never reads a stale answer.
	 */
	bool select_window;
	/*
	 * virtio_console: a port's receive completions wait while the driver
	 * may have no port listed for them (vlb_console_gate.h).
	 */
	bool console_gate;
	/*
	 * Checks the config space (@config, @size bytes) against what the
	 * stock driver builds from it and the device's limits (@c: queues,
	 * ring size, features offered), at CREATE and for every config
	 * update; NULL if nothing in it can hurt the driver.
	 */
	int (*check_config)(const struct vlb_create *c, const __u8 *config,
			    __u32 size, const char **why);
	/*
	 * Takes out of a checked config space (@config, @size bytes) what
	 * the device may not declare to the driver, before the driver can
	 * read it; NULL if nothing.
	 */
	void (*mask_config)(__u8 *config, __u32 size);
	/*
	 * What a config update may change once the device exists: the fields
	 * the driver reads again on a config change. Drivers read the others
	 * once, field by field, at probe: an update between two reads would
	 * hand them a mix no check saw. A selection window's answer may be
	 * given once per selection instead.
	 */
	const struct vlb_cfg_range *mutable_ranges;
	unsigned int nmutable;
};

/* The type of @device_id, or NULL if the module does not serve it. */
const struct vlb_type *vlb_type_find(__u32 device_id);

#ifdef __cplusplus
}
#endif

#endif /* VLB_TYPES_H */
