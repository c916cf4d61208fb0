/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/*
 * When virtio_console may be handed what a device put in a port's
 * receive queue.
 *
 * Its in_intr() empties a receive queue without the port's lock when no
 * listed port owns the queue (flush_bufs), while add_port() fills that
 * queue under the lock before it lists the port, and unplug_port() adds
 * buffers back after unlisting it. A completion in either window runs
 * virtqueue_get_buf() against virtqueue_add_inbuf() on one queue: its
 * free list is corrupted, and the driver later hands out a descriptor
 * still in flight (BUG in virtqueue's detach at removal). A device
 * chooses when it completes, so the transport holds a port's receive
 * completions back while the driver may have no port listed for them:
 * until the driver's PORT_READY(1) that answers a PORT_ADD, and again
 * from the device's PORT_REMOVE on.
 *
 * The driver handles control messages one at a time in the order the
 * device completed them and answers every PORT_ADD for an id below
 * max_nr_ports with one PORT_READY for that id: 1 once the port is
 * listed, 0 if add_port() failed. Counting therefore tells which
 * PORT_ADD an answer is for, and whether a PORT_REMOVE came after it.
 * Its resume (virtcons_restore) refills the queues of the ports it still
 * lists, then sends PORT_READY(1) for each, answering no PORT_ADD; such
 * an answer opens no port whose PORT_REMOVE the device has sent since
 * its last PORT_ADD (the driver is about to unlist it).
 * Without VIRTIO_CONSOLE_F_MULTIPORT the driver adds port 0 once, in its
 * probe, and says nothing when it has listed it (it fills the queue, then
 * allocates the hvc, then lists the port): port 0's queue is held until
 * the probe has returned and the driver core counts the driver bound.
 *
 * The transmit queues are not held: a console write busy-waits for its
 * buffer under the hvc lock, which unplug_port() takes (hvc_remove).
 *
 * Plain C like vlb_types.c: the unit tests run this very code. The
 * caller serialises every call on one gate.
 */
#ifndef VLB_CONSOLE_GATE_H
#define VLB_CONSOLE_GATE_H

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

/* Queue indexes of a multiport console (virtio spec 5.3.2). */
#define VLB_CONSOLE_CONTROL_RX	2	/* the device's control messages */
#define VLB_CONSOLE_CONTROL_TX	3	/* the driver's */
/* struct virtio_console_control: le32 id, le16 event, le16 value. */
#define VLB_CONSOLE_CONTROL_LEN	8
/* Every port has a receive and a transmit queue, the control pair too. */
#define VLB_CONSOLE_GATE_PORTS	(VLB_MAX_QUEUES / 2 - 1)

struct vlb_console_port_gate {
	__u32 adds;	/* PORT_ADDs since the last PORT_REMOVE, unanswered */
	__u32 stale;	/* PORT_ADDs before the last PORT_REMOVE, unanswered */
	bool open;	/* the driver has the port listed */
	bool removed;	/* a PORT_REMOVE sent, no PORT_ADD since */
};

struct vlb_console_gate {
	bool multiport;
	__u32 nports;	/* the driver's max_nr_ports, 1 without multiport */
	struct vlb_console_port_gate port[VLB_CONSOLE_GATE_PORTS];
};

/* Every port closed; @max_nr_ports as the driver read it at probe. */
void vlb_console_gate_init(struct vlb_console_gate *g, bool multiport,
			   __u32 max_nr_ports);

/* The port whose receive queue is @queue, or -1. */
int vlb_console_gate_rx_port(const struct vlb_console_gate *g, __u32 queue);

/* The receive queue of @port. */
__u32 vlb_console_gate_rx_queue(__u32 port);

/* Whether completions on @queue must wait. */
bool vlb_console_gate_holds(const struct vlb_console_gate *g, __u32 queue);

/*
 * A control message of the device, as the driver will read it, at the
 * moment it is completed to the driver. Returns the port it closed, or -1.
 */
int vlb_console_gate_device_msg(struct vlb_console_gate *g, const __u8 *msg);

/*
 * A control message the driver sends. Returns the port it opened (its
 * held completions may go now), or -1.
 */
int vlb_console_gate_driver_msg(struct vlb_console_gate *g, const __u8 *msg);

/*
 * Without multiport: the driver's probe has returned, port 0 is listed.
 * Returns the port it opened (0), or -1.
 */
int vlb_console_gate_driver_bound(struct vlb_console_gate *g);

#ifdef __cplusplus
}
#endif

#endif /* VLB_CONSOLE_GATE_H */
