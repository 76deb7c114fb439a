import * as Effect from "effect/Effect";
import { type SMTPServerOptions } from "smtp-server";
export interface ReceivedMail {
    readonly from: string;
    readonly to: ReadonlyArray<string>;
    readonly size: number;
    readonly sha256: string;
    /** The body, for messages up to 1 MiB (bigger ones are only hashed). */
    readonly data: Buffer | undefined;
    readonly user: string | undefined;
    readonly secure: boolean;
    readonly utf8: boolean;
    readonly body8bit: boolean;
}
export interface RunningServer {
    readonly port: number;
    readonly received: Array<ReceivedMail>;
    /** Connections currently open on the server. */
    readonly connections: Effect.Effect<number>;
}
export declare const users: Record<string, string>;
export declare const tokens: Record<string, string>;
/** Recipients starting with "reject" are refused with 550 5.1.1. */
export declare const smtpServer: (options?: Partial<SMTPServerOptions>) => Effect.Effect<RunningServer, never, import("effect/Scope").Scope>;
//# sourceMappingURL=smtpServer.d.ts.map