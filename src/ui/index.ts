/**
 * `engram-mesh/ui`: the Lit components, each registered as a custom element on import. Give
 * `<engram-app>` (the whole console) a `handle` (what `openBrowserNode` resolves to, or anything
 * implementing EngramHandle); the panels take plain data, as engram-app hands it to them.
 */
export { EngramApp } from './engram-app.js';
export { ConflictQueue } from './conflict-queue.js';
export { HealProgressView } from './heal-progress.js';
export { MemberTable } from './member-table.js';
export { NodeHeader } from './node-header.js';
export { RecallBox } from './recall-box.js';
export { RememberForm } from './remember-form.js';
export { TopologyView } from './topology-view.js';
export { VisibilityGauge } from './visibility-gauge.js';
export { FakeEngramHandle, createPartitionedClusterHandle } from './fake-handle.js';
export type { EngramEvent, EngramEventKind, EngramHandle, HealStatus, LinkInfo, LinkState } from './engram-handle.js';
