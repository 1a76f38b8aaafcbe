/*
 * Copyright 2026 The kube-multipath Authors. Licensed under the Apache License, Version 2.0.
 *
 * An LD_PRELOAD shim that lets the real multipathd run where the kernel has no device-mapper:
 * it answers the libdevmapper calls multipathd's start-up and reconfigure make, and those of
 * `multipath -a`, with a driver that has the multipath target and no maps. Every other
 * libdevmapper call is the real one. The struct layouts are libdevmapper's (libdevmapper.h), written out here because the
 * header may not be installed.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

struct dm_task;
struct dm_names { uint64_t dev; uint32_t next; char name[0]; };
struct dm_versions { uint32_t next; uint32_t version[3]; char name[0]; };

int dm_driver_version(char *version, size_t size)
{
	snprintf(version, size, "4.48.0");
	return 1;
}

int dm_task_run(struct dm_task *dmt)
{
	(void)dmt;
	return 1;
}

/* dev == 0: an empty list of maps. */
static uint64_t names_buf[8];

struct dm_names *dm_task_get_names(struct dm_task *dmt)
{
	(void)dmt;
	memset(names_buf, 0, sizeof names_buf);
	return (struct dm_names *)names_buf;
}

/* One target: multipath v1.14.0. */
static uint32_t versions_buf[16];

struct dm_versions *dm_task_get_versions(struct dm_task *dmt)
{
	struct dm_versions *v = (struct dm_versions *)versions_buf;

	(void)dmt;
	memset(versions_buf, 0, sizeof versions_buf);
	v->version[0] = 1;
	v->version[1] = 14;
	v->version[2] = 0;
	strcpy(v->name, "multipath");
	return v;
}

/* No map exists: a lookup by name (multipath -a's dm_get_uuid, dm_map_present) finds none. */
struct dm_info {
	int exists, suspended, live_table, inactive_table;
	int32_t open_count;
	uint32_t event_nr, major, minor;
	int read_only;
	int32_t target_count;
	int deferred_remove, internal_suspend;
};

int dm_task_get_info(struct dm_task *dmt, struct dm_info *info)
{
	(void)dmt;
	memset(info, 0, sizeof *info);
	return 1;
}

const char *dm_task_get_uuid(const struct dm_task *dmt)
{
	(void)dmt;
	return "";
}
