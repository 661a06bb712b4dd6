import type { CallOptions, RemoteEndpoint } from '@ikc/kernel';
import { Session } from '@ikc/kernel';
import { type IkcError, registerSessionClass, SessionRef } from '@ikc/wire';
import type { Mesh } from './mesh.js';

// Session objects cross the wire as references. msgpackr's extension table is process-wide,
// so the mesh whose link is encoding says (through this variable) which kernel a local
// session is being shown to: that kernel may then post back to it (see grant()).
// Two variables, not an object: one is set for every frame sent.
let encodingMesh: Mesh | undefined;
let encodingKernel = '';
registerSessionClass(Session as unknown as abstract new (...args: never[]) => Session, (s: Session) => {
  if (s.remote) return new SessionRef(s.remote.kernelId, s.id);
  if (encodingMesh && encodingMesh.kernel === s.kernel) encodingMesh.grant(encodingKernel, s);
  return new SessionRef(s.kernel.id, s.id);
});

/**
 * Names `mesh` as the encoder and `kernelId` as the kernel it shows sessions to, until
 * encodingDone(): call both around the encoding, the second in a `finally`.
 */
export function encodingAs(mesh: Mesh, kernelId: string): void {
  encodingMesh = mesh;
  encodingKernel = kernelId;
}

export function encodingDone(): void {
  encodingMesh = undefined;
}

/** A proxy's way to its remote session: through the mesh, by kernel id and session id or alias. */
export class SessionEndpoint implements RemoteEndpoint {
  gone: IkcError | undefined;

  constructor(
    private readonly mesh: Mesh,
    readonly kernelId: string,
    readonly kernelName: string,
    /** The session id on that kernel (or an alias the kernel resolves). */
    readonly target: string,
  ) {}

  post(sender: Session, event: string, args: unknown[]): void {
    this.mesh.sendPost(this.kernelId, this.target, sender, event, args);
  }

  call(sender: Session, event: string, args: unknown[], options: CallOptions): Promise<unknown> {
    return this.mesh.sendCall(this.kernelId, this.target, sender, event, args, options);
  }

  error(err: IkcError, about: { session?: string; event?: string }): void {
    this.mesh.sendPostError(this.kernelId, this.target, err, about);
  }

  ready(): Promise<void> {
    return this.mesh.readyFor(this.kernelId);
  }
}

/** A `*` proxy: each post or call goes to one of the kernels that publish the alias. */
export class AnyEndpoint implements RemoteEndpoint {
  readonly kernelId = '*';
  readonly kernelName = '*';

  constructor(
    private readonly mesh: Mesh,
    readonly alias: string,
  ) {}

  post(sender: Session, event: string, args: unknown[]): void {
    this.mesh.routeAny(sender, { kernel: '*', session: this.alias }, event, args, undefined);
  }

  call(sender: Session, event: string, args: unknown[], options: CallOptions): Promise<unknown> {
    return this.mesh.routeAny(
      sender,
      { kernel: '*', session: this.alias },
      event,
      args,
      options,
    ) as Promise<unknown>;
  }
}
