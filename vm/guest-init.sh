#!/bin/busybox sh
# /init of the embedded powercut guest: modules, filesystems, network, then dropbear (ssh).
/bin/busybox --install -s /bin
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm /run /tmp /var/tmp /mnt
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /var/tmp
while read -r ko; do insmod "$ko" 2>/dev/null; done < /etc/modules.order
[ -e /dev/mapper/control ] || { mkdir -p /dev/mapper; mknod /dev/mapper/control c 10 236 2>/dev/null; }
for i in 0 1 2 3 4 5 6 7; do [ -e /dev/loop$i ] || mknod /dev/loop$i b 7 $i; done
hostname powercut-guest
ip link set lo up
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0
ip route add default via 10.0.2.2
echo 3 > /proc/sys/kernel/printk
/usr/sbin/dropbear -R -E -p 22 -r /etc/dropbear/dropbear_ed25519_host_key 2>/var/tmp/dropbear.log
echo "powercut-guest: ready ($(uname -r))"
# PID 1 must never exit; reap children.
while true; do sleep 3600; done
