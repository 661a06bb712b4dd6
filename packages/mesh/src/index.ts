/**
 * @ikc/mesh — kernels talk: links (ws over TCP, ws over a UNIX socket, in-memory), the
 * authenticated handshake, remote post and call, lazy proxies, monitors and leaf kernels.
 */
export { DEFAULT_PORT, defaultTuning, type MeshTuning } from './defaults.js';
export { heapGrowthFlag, heapGrowthSet } from './heap.js';
export type { PeerInfo } from './link.js';
export { createLogger, type Logger, silentLogger } from './log.js';
export { Mesh, type PeerView } from './mesh.js';
export {
  type AttachOptions,
  attach,
  attachJobLeaf,
  defaultSocketPath,
  fromConfig,
  type KernelConfig,
  type MeshJobContext,
  MeshKernel,
  readTls,
  startKernel,
  type TlsFiles,
  transportFor,
} from './node.js';
export { RemoteError } from './remote-error.js';
export type {
  CloseInfo,
  Conn,
  ConnectOptions,
  ConnHandlers,
  Listener,
  Transport,
  TransportOptions,
} from './transport.js';
export { MemoryNetwork, MemoryTransport } from './transports/memory.js';
export { WsTcpTransport } from './transports/ws-tcp.js';
export { WsUnixTransport } from './transports/ws-unix.js';
