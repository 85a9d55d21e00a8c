import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { Worker, type Job } from 'bullmq';
import type Redis from 'ioredis';
import {
  JobError,
  PodJobDefs,
  PodJobs,
  bullConnection,
  parsePayload,
  podQueueName,
  publishReplies,
} from '@executor/queues';
import { EXECUTOR_CONFIG, workerConcurrency, type ExecutorConfig } from '../config/executor.config';
import { FilesService } from '../files/files.service';
import { SandboxFsService } from '../fs/sandbox-fs.service';
import type { Session } from '../sessions/session';
import { PackagesService } from '../packages/packages.service';
import { ReadinessService } from '../readiness/readiness.service';
import { SessionsService } from '../sessions/sessions.service';
import { REDIS } from '../tokens';

/**
 * The BullMQ worker on this pod's queue (`pod-<POD_NAME>`). A plain bullmq Worker in a provider
 * rather than an `@Processor` WorkerHost: the queue name comes from validated runtime config
 * (POD_NAME), which a decorator argument cannot take, and the shutdown sequence needs to close
 * the worker (finish in-flight jobs) before the final snapshots, in that order.
 */
@Injectable()
export class PodWorkerService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(PodWorkerService.name);
  private worker?: Worker;
  readonly queueName: string;

  constructor(
    @Inject(EXECUTOR_CONFIG) private readonly cfg: ExecutorConfig,
    @Inject(REDIS) private readonly redis: Redis,
    private readonly sessions: SessionsService,
    private readonly files: FilesService,
    private readonly packages: PackagesService,
    private readonly sandboxFs: SandboxFsService,
    private readonly readiness: ReadinessService,
  ) {
    this.queueName = podQueueName(cfg.POD_NAME);
  }

  get running(): boolean {
    return !!this.worker?.isRunning();
  }

  async onApplicationBootstrap(): Promise<void> {
    // Jobs wait in the queue while the boot smoke test runs (the heartbeat says healthy: false, so
    // no new session is routed here); a pod that failed it still answers them: `unavailable`.
    await this.readiness.settled;
    const worker = new Worker(this.queueName, (job: Job) => this.process(job), {
      connection: bullConnection(this.cfg.REDIS_URL),
      prefix: this.cfg.QUEUE_PREFIX,
      concurrency: workerConcurrency(this.cfg),
      // Long executions (up to 300 s) keep their lock by renewal; a dead pod's job is not retried elsewhere.
      maxStalledCount: 0,
    });
    worker.on('error', (err) => this.logger.error(`worker: ${err.message}`));
    publishReplies(worker, this.redis, this.cfg.QUEUE_PREFIX);
    await worker.waitUntilReady();
    this.worker = worker;
  }

  /** Stops taking jobs and waits for the in-flight ones to finish. */
  async close(): Promise<void> {
    await this.worker?.close();
  }

  async onModuleDestroy(): Promise<void> {
    await this.close();
  }

  /**
   * A change to the session's files made beside executions (no mutex for the change itself); a
   * persistent session then commits a snapshot (under its mutex) before the answer, as files.put does.
   */
  private async changed<T>(sessionId: string, fn: (s: Session) => Promise<T>): Promise<T> {
    const s = this.sessions.lookup(sessionId);
    const result = await fn(s);
    if (s.persist)
      await this.sessions.withSession(sessionId, (x) =>
        this.sessions.snapshot(x, 'execution', { onlyIfFilesChanged: true }),
      );
    return result;
  }

  /** Dispatches one job (payload validated at the edge). */
  async process(job: Job): Promise<unknown> {
    const data: unknown = job.data;
    switch (job.name) {
      case PodJobs.open:
        return this.sessions.open(parsePayload(PodJobDefs.open, data));
      case PodJobs.execute:
        return this.sessions.execute(parsePayload(PodJobDefs.execute, data));
      case PodJobs.persist:
        return this.sessions.persist(parsePayload(PodJobDefs.persist, data).sessionId);
      case PodJobs.close: {
        const p = parsePayload(PodJobDefs.close, data);
        return { closed: await this.sessions.close(p.sessionId, p.deleteState) };
      }
      case PodJobs.filesPut: {
        const p = parsePayload(PodJobDefs.filesPut, data);
        return this.sessions.withSession(p.sessionId, async (s) => {
          const result = await this.files.put(s, p.path, p.blob);
          // Like an execution's writes: a 204 means the file survives the pod.
          if (s.persist) await this.sessions.snapshot(s, 'execution', { onlyIfFilesChanged: true });
          return result;
        });
      }
      case PodJobs.filesGet: {
        const p = parsePayload(PodJobDefs.filesGet, data);
        return this.sessions.withSession(p.sessionId, (s) => this.files.get(s, p.path));
      }
      case PodJobs.filesList: {
        const p = parsePayload(PodJobDefs.filesList, data);
        return this.sessions.withSession(p.sessionId, async (s) => ({ items: await this.files.list(s) }));
      }
      case PodJobs.filesDelete: {
        const p = parsePayload(PodJobDefs.filesDelete, data);
        return this.sessions.withSession(p.sessionId, async (s) => {
          const deleted = await this.files.delete(s, p.path);
          if (deleted && s.persist)
            await this.sessions.snapshot(s, 'execution', { onlyIfFilesChanged: true });
          return { deleted };
        });
      }
      case PodJobs.packagesInstall: {
        const p = parsePayload(PodJobDefs.packagesInstall, data);
        return this.sessions.withSession(p.sessionId, async (s) => {
          const installed = await this.packages.install(s, p);
          if (s.persist) await this.sessions.snapshot(s, 'execution', { onlyIfFilesChanged: true });
          return { installed: installed.map(({ name, version }) => ({ name, version })) };
        });
      }
      case PodJobs.packagesList: {
        const p = parsePayload(PodJobDefs.packagesList, data);
        return this.sessions.withSession(p.sessionId, async (s) => ({
          items: s.packages.map((x) => ({ ...x })),
        }));
      }
      // ---------------------------------------------------------------- contexts (session mutex)
      case PodJobs.contextCreate: {
        const p = parsePayload(PodJobDefs.contextCreate, data);
        return this.sessions.createContext(p.sessionId, p.language, p.cwd);
      }
      case PodJobs.contextList:
        return this.sessions.listContexts(parsePayload(PodJobDefs.contextList, data).sessionId);
      case PodJobs.contextRestart: {
        const p = parsePayload(PodJobDefs.contextRestart, data);
        return this.sessions.restartContext(p.sessionId, p.context);
      }
      case PodJobs.contextRemove: {
        const p = parsePayload(PodJobDefs.contextRemove, data);
        return this.sessions.removeContext(p.sessionId, p.context);
      }
      // ---------------------------------------------------------------- processes (beside executions)
      case PodJobs.processStart: {
        const p = parsePayload(PodJobDefs.processStart, data);
        return this.sessions.lookup(p.sessionId).processes.start(p);
      }
      case PodJobs.processList: {
        const p = parsePayload(PodJobDefs.processList, data);
        return { items: this.sessions.lookup(p.sessionId).processes.list() };
      }
      case PodJobs.processGet: {
        const p = parsePayload(PodJobDefs.processGet, data);
        return this.sessions.lookup(p.sessionId).processes.get(p);
      }
      case PodJobs.processInput: {
        const p = parsePayload(PodJobDefs.processInput, data);
        await this.sessions.lookup(p.sessionId).processes.input(p, p.data);
        return {};
      }
      case PodJobs.processCloseStdin: {
        const p = parsePayload(PodJobDefs.processCloseStdin, data);
        this.sessions.lookup(p.sessionId).processes.closeStdin(p);
        return {};
      }
      case PodJobs.processSignal: {
        const p = parsePayload(PodJobDefs.processSignal, data);
        this.sessions.lookup(p.sessionId).processes.signal(p, p.signal);
        return {};
      }
      // ---------------------------------------------------------------- filesystem on sandbox paths
      case PodJobs.fsStat: {
        const p = parsePayload(PodJobDefs.fsStat, data);
        return this.sandboxFs.stat(this.sessions.lookup(p.sessionId), p.path);
      }
      case PodJobs.fsList: {
        const p = parsePayload(PodJobDefs.fsList, data);
        return this.sandboxFs.list(this.sessions.lookup(p.sessionId), p.path, p.depth);
      }
      case PodJobs.fsRead: {
        const p = parsePayload(PodJobDefs.fsRead, data);
        return this.sandboxFs.read(this.sessions.lookup(p.sessionId), p.path, p.pipe);
      }
      case PodJobs.fsMkdir: {
        const p = parsePayload(PodJobDefs.fsMkdir, data);
        return this.changed(p.sessionId, (s) => this.sandboxFs.mkdir(s, p.path));
      }
      case PodJobs.fsMove: {
        const p = parsePayload(PodJobDefs.fsMove, data);
        return this.changed(p.sessionId, (s) => this.sandboxFs.move(s, p.source, p.destination));
      }
      case PodJobs.fsRemove: {
        const p = parsePayload(PodJobDefs.fsRemove, data);
        return this.changed(p.sessionId, (s) => this.sandboxFs.remove(s, p.path));
      }
      case PodJobs.fsWrite: {
        const p = parsePayload(PodJobDefs.fsWrite, data);
        return this.changed(p.sessionId, (s) => this.sandboxFs.write(s, p.path, p.pipe));
      }
      case PodJobs.fsWatch: {
        const p = parsePayload(PodJobDefs.fsWatch, data);
        await this.sessions.lookup(p.sessionId).watches.watch(p.watchId, p.path, p.recursive);
        return {};
      }
      case PodJobs.fsUnwatch: {
        const p = parsePayload(PodJobDefs.fsUnwatch, data);
        await this.sessions.lookup(p.sessionId).watches.unwatch(p.watchId);
        return {};
      }
      default:
        throw new JobError('invalid_argument', `unknown job "${job.name}" on ${this.queueName}`);
    }
  }
}
