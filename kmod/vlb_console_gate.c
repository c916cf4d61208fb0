// SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0
/*
 * The console receive gate; see vlb_console_gate.h. Keep this file free
 * of kernel-only calls: user space builds it too.
 */
#ifdef __KERNEL__
#include <linux/nospec.h>
#include <linux/string.h>
#else
#include <string.h>
/* User space runs no speculation gadget hunt: the bounds check suffices. */
#define array_index_nospec(index, size) (index)
#endif

#include "vlb_console_gate.h"

/* include/uapi/linux/virtio_console.h */
#define VLB_CONSOLE_PORT_ADD	1
#define VLB_CONSOLE_PORT_REMOVE	2
#define VLB_CONSOLE_PORT_READY	3

struct vlb_console_msg {
	__u32 id;
	__u16 event, value;
};

/* Little endian: the transport serves VIRTIO_F_VERSION_1 devices only. */
static struct vlb_console_msg vlb_console_parse(const __u8 *m)
{
	struct vlb_console_msg c;

	c.id = (__u32)m[0] | (__u32)m[1] << 8 | (__u32)m[2] << 16 |
	       (__u32)m[3] << 24;
	c.event = (__u16)(m[4] | m[5] << 8);
	c.value = (__u16)(m[6] | m[7] << 8);
	return c;
}

void vlb_console_gate_init(struct vlb_console_gate *g, bool multiport,
			   __u32 max_nr_ports)
{
	memset(g, 0, sizeof(*g));
	g->multiport = multiport;
	g->nports = multiport ? max_nr_ports : 1;
	/* CREATE's config check keeps it to the queues there are. */
	if (g->nports > VLB_CONSOLE_GATE_PORTS)
		g->nports = VLB_CONSOLE_GATE_PORTS;
}

int vlb_console_gate_rx_port(const struct vlb_console_gate *g, __u32 queue)
{
	__u32 port;

	if (queue == 0)
		return 0;
	if (!g->multiport || queue < 4 || queue % 2)
		return -1;
	port = queue / 2 - 1;
	return port < g->nports ? (int)port : -1;
}

__u32 vlb_console_gate_rx_queue(__u32 port)
{
	return port ? 2 + 2 * port : 0;
}

bool vlb_console_gate_holds(const struct vlb_console_gate *g, __u32 queue)
{
	int port = vlb_console_gate_rx_port(g, queue);

	return port >= 0 && !g->port[port].open;
}

int vlb_console_gate_device_msg(struct vlb_console_gate *g, const __u8 *msg)
{
	struct vlb_console_msg c = vlb_console_parse(msg);
	struct vlb_console_port_gate *p;

	/* The driver drops a PORT_ADD beyond max_nr_ports unanswered. */
	if (!g->multiport || c.id >= g->nports)
		return -1;
	/* The id is the device's: no speculative load past the table. */
	p = &g->port[array_index_nospec(c.id, g->nports)];
	switch (c.event) {
	case VLB_CONSOLE_PORT_ADD:
		/* At most a control ring of them waits for the driver. */
		p->adds++;
		p->removed = false;
		return -1;
	case VLB_CONSOLE_PORT_REMOVE:
		/* Answers to earlier PORT_ADDs come before it is handled. */
		p->stale += p->adds;
		p->adds = 0;
		p->removed = true;
		if (!p->open)
			return -1;
		p->open = false;
		return (int)c.id;
	default:
		return -1;
	}
}

int vlb_console_gate_driver_msg(struct vlb_console_gate *g, const __u8 *msg)
{
	struct vlb_console_msg c = vlb_console_parse(msg);
	struct vlb_console_port_gate *p;
	bool answers_add;

	if (!g->multiport || c.id >= g->nports ||
	    c.event != VLB_CONSOLE_PORT_READY)
		return -1;
	p = &g->port[array_index_nospec(c.id, g->nports)];
	/* A PORT_REMOVE is still to be handled after the PORT_ADD answered. */
	if (p->stale) {
		p->stale--;
		return -1;
	}
	/*
	 * Answering no PORT_ADD: virtcons_restore() after a resume, which
	 * refills the queue of a port still listed and then says so.
	 */
	answers_add = p->adds != 0;
	if (answers_add)
		p->adds--;
	if (!c.value) {
		p->open = false;	/* add_port() failed */
		return -1;
	}
	/* The driver is about to unlist it: its PORT_REMOVE is on the way. */
	if (!answers_add && p->removed)
		return -1;
	if (p->open)		/* a repeated PORT_ADD */
		return -1;
	p->open = true;
	return (int)c.id;
}

int vlb_console_gate_driver_bound(struct vlb_console_gate *g)
{
	if (g->multiport || g->port[0].open)
		return -1;
	g->port[0].open = true;
	return 0;
}
