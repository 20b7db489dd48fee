import type { Db } from '../../agent/store/db.js';
import { ApiTokensRepo } from './api-tokens.js';
import { AuditRepo } from './audit.js';
import { CommandsRepo } from './commands.js';
import { DeploymentsRepo } from './deployments.js';
import { DevicesRepo } from './devices.js';
import { EmergencyRepo } from './emergency.js';
import { ManifestsRepo } from './manifests.js';
import { MediaRepo } from './media.js';
import { PairingRepo } from './pairing.js';
import { ProgramsRepo } from './programs.js';
import { ReleasesRepo } from './releases.js';
import { SchedulesRepo } from './schedules.js';
import { UsersRepo } from './users.js';
import { ZonesRepo } from './zones.js';

/**
 * The controller's one data layer: every SQL statement lives in controller/data/, behind these repositories,
 * so that a PostgreSQL implementation can follow without touching routes or services.
 */
export class DataLayer {
  readonly zones: ZonesRepo;
  readonly users: UsersRepo;
  readonly audit: AuditRepo;
  readonly devices: DevicesRepo;
  readonly media: MediaRepo;
  readonly programs: ProgramsRepo;
  readonly schedules: SchedulesRepo;
  readonly manifests: ManifestsRepo;
  readonly pairing: PairingRepo;
  readonly emergency: EmergencyRepo;
  readonly apiTokens: ApiTokensRepo;
  readonly commands: CommandsRepo;
  readonly releases: ReleasesRepo;
  readonly deployments: DeploymentsRepo;

  constructor(readonly db: Db) {
    this.zones = new ZonesRepo(db);
    this.users = new UsersRepo(db);
    this.audit = new AuditRepo(db);
    this.devices = new DevicesRepo(db);
    this.media = new MediaRepo(db);
    this.programs = new ProgramsRepo(db);
    this.schedules = new SchedulesRepo(db);
    this.manifests = new ManifestsRepo(db);
    this.pairing = new PairingRepo(db);
    this.emergency = new EmergencyRepo(db);
    this.apiTokens = new ApiTokensRepo(db);
    this.commands = new CommandsRepo(db);
    this.releases = new ReleasesRepo(db);
    this.deployments = new DeploymentsRepo(db);
  }

  /** Runs `fn` in one transaction: all of it is stored, or none of it. */
  tx<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }
}
