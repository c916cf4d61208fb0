// SPDX-License-Identifier: Apache-2.0
#include "kernel_node.h"

#include <fcntl.h>
#include <sys/ioctl.h>

#include <linux/virtio_loopback.h>

#include "vlb/sys_error.h"

namespace vlb {

KernelNode::KernelNode(const std::string &path)
	: path_(path), fd_(retry_eintr([&] { return ::open(path.c_str(), O_RDWR | O_CLOEXEC); }))
{
	if (!fd_)
		throw_errno("open " + path_);
}

AbiVersion KernelNode::version() const
{
	vlb_version ver{};
	if (::ioctl(fd_.get(), VLB_IOC_GET_VERSION, &ver) < 0)
		throw_errno("VLB_IOC_GET_VERSION on " + path_);
	return {ver.abi_major, ver.abi_minor};
}

bool abi_compatible(AbiVersion built, AbiVersion running) noexcept
{
	return built.major == running.major && running.minor >= built.minor;
}

} // namespace vlb
