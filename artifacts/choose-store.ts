/**
 * Picks the firmware file store for a stack. `auto` asks the server what it
 * is: FerretDB names itself in buildInfo, and on FerretDB's SQLite backend
 * every GridFS chunk read scans the whole chunk collection (bench/firmware-store.ts
 * measures it), so the files go to the data folder there and to GridFS on MongoDB.
 */
import type { Db } from 'mongodb';
import type { Config } from '../config/config';
import { createFolderStore } from './folder-store';
import { createGridFsStore } from './gridfs-store';
import type { FirmwareFileStore } from './store';

export async function isFerretDb(db: Db): Promise<boolean> {
  const info = await db.admin().command({ buildInfo: 1 });
  return Object.keys(info).some((key) => key.toLowerCase().startsWith('ferretdb'));
}

export async function chooseFirmwareStore(
  db: Db,
  config: Pick<Config, 'dataDir' | 'firmwareFiles'>,
): Promise<FirmwareFileStore> {
  const kind =
    config.firmwareFiles.store === 'auto' ? ((await isFerretDb(db)) ? 'folder' : 'gridfs') : config.firmwareFiles.store;
  return kind === 'gridfs' ? createGridFsStore(db) : createFolderStore(config.dataDir);
}
