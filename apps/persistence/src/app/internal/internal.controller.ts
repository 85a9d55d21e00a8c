import { Controller, Delete, Get, HttpCode, Param, UseFilters, UseGuards } from '@nestjs/common';
import { StateStore, type SessionInfo, type StoreStats } from '../store/state-store';
import { ApiError, ApiErrorCodes, ApiErrorFilter } from './api-error';
import { InternalApiGuard } from './internal.guard';

const SESSION_ID = /^[A-Za-z0-9._-]{1,128}$/;

function checkId(id: string): string {
  if (!SESSION_ID.test(id))
    throw new ApiError(
      400,
      ApiErrorCodes.invalidArgument,
      `invalid session id "${id}" (1-128 of A-Z a-z 0-9 . _ -)`,
    );
  return id;
}

/** Operator API (not exposed publicly): inspect and delete stored state, storage stats. */
@Controller('internal')
@UseFilters(ApiErrorFilter)
@UseGuards(InternalApiGuard)
export class InternalController {
  constructor(private readonly store: StateStore) {}

  /** Versions and metadata of a session's stored state, with sizes. */
  @Get('sessions/:id')
  async session(@Param('id') id: string): Promise<SessionInfo> {
    const info = await this.store.info(checkId(id));
    if (!info) throw new ApiError(404, ApiErrorCodes.notFound, `no stored state for session ${id}`);
    return info;
  }

  /** Deletes everything stored for a session (204; 404 when there is nothing). */
  @Delete('sessions/:id')
  @HttpCode(204)
  async remove(@Param('id') id: string): Promise<void> {
    if (!(await this.store.delete(checkId(id))))
      throw new ApiError(404, ApiErrorCodes.notFound, `no stored state for session ${id}`);
  }

  /** Logical vs physical bytes (the dedup + compression ratio), blob/version/session counts. */
  @Get('stats')
  async stats(): Promise<StoreStats & { ratio: number }> {
    const s = await this.store.stats();
    return { ...s, ratio: s.physicalBytes ? Math.round((s.logicalBytes / s.physicalBytes) * 100) / 100 : 0 };
  }
}
