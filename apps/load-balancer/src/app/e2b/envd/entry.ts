import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import type { EntryInfo as CoreEntry, WatchEventType } from '@executor/queues';
import { EntryInfoSchema, EventType, FileType, type EntryInfo } from './gen/filesystem/filesystem_pb';

const FILE_TYPES: Record<CoreEntry['type'], FileType> = {
  file: FileType.FILE,
  dir: FileType.DIRECTORY,
  symlink: FileType.SYMLINK,
};

const EVENT_TYPES: Record<WatchEventType, EventType> = {
  create: EventType.CREATE,
  write: EventType.WRITE,
  remove: EventType.REMOVE,
  rename: EventType.RENAME,
  chmod: EventType.CHMOD,
};

/** The core's EntryInfo as envd's protobuf message. */
export function toEntryInfo(e: CoreEntry): EntryInfo {
  return create(EntryInfoSchema, {
    name: e.name,
    type: FILE_TYPES[e.type] ?? FileType.UNSPECIFIED,
    path: e.path,
    size: BigInt(e.size),
    mode: e.mode,
    permissions: e.permissions,
    owner: e.owner,
    group: e.group,
    modifiedTime: timestampFromDate(new Date(e.modifiedTime)),
    ...(e.symlinkTarget !== undefined ? { symlinkTarget: e.symlinkTarget } : {}),
  });
}

export function toEventType(t: WatchEventType): EventType {
  return EVENT_TYPES[t] ?? EventType.UNSPECIFIED;
}
