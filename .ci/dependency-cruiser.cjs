/**
 * Boundaries of the code base, checked by `npm run deps` (part of `npm test`).
 *
 * Layers: wiring (main, server, app, openapi) → features → infrastructure.
 * - Features (intake, routing, worklist, responses, delivery, deadlines, consents, medcom,
 *   settlement, statistics) talk to each other only through a feature's public modules:
 *   service.ts (the behaviour), types.ts and schema.ts (shapes). Stores, routes and helpers
 *   are internal: no other feature imports them. The deadlines feature's pure rules
 *   (calendar, engine, events, agreements: no I/O, no state) are public too, so settlement
 *   and statistics count days and recompute clocks exactly as the clocks do.
 * - Infrastructure (shared, storage, audit, parties, pki, receipts, outbox)
 *   never imports a feature or the wiring.
 * - queues/ hold one module per BullMQ queue; each may use its own feature's
 *   modules and other features' public ones. Only the wiring imports queues/.
 * - No import cycles anywhere.
 */
const FEATURES = '(intake|routing|worklist|responses|delivery|deadlines|consents|medcom|settlement|statistics)';
const PUBLIC = '(service|types|schema)\\.ts$';
/** deadlines' pure rules, shared so that every count of days and every clock is the same */
const PURE_RULES = '^src/deadlines/(calendar|engine|events|agreements)\\.ts$';

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A cycle makes two modules one: break it by moving what both need to the lower one.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'feature-internals',
      severity: 'error',
      comment: 'A feature uses another feature only through its service.ts, types.ts or schema.ts, never its store, routes or helpers.',
      from: { path: `^src/${FEATURES}/` },
      to: { path: `^src/${FEATURES}/`, pathNot: [`^src/$1/`, `^src/${FEATURES}/${PUBLIC}`, PURE_RULES] },
    },
    {
      name: 'queue-uses-public-surface',
      severity: 'error',
      comment: "A queue module may use its own feature's modules, and other features only through their public modules.",
      from: { path: '^queues/(routing|delivery)\\.ts$' },
      to: { path: `^src/${FEATURES}/`, pathNot: ['^src/$1/', `^src/${FEATURES}/${PUBLIC}`] },
    },
    {
      name: 'reminder-queue-uses-public-surface',
      severity: 'error',
      comment: 'queues/deadline-reminders.ts belongs to deadlines; other features only through their public modules.',
      from: { path: '^queues/deadline-reminders\\.ts$' },
      to: { path: `^src/${FEATURES}/`, pathNot: ['^src/deadlines/', `^src/${FEATURES}/${PUBLIC}`] },
    },
    {
      name: 'medcom-ack-queue-uses-public-surface',
      severity: 'error',
      comment: 'queues/medcom-acks.ts belongs to medcom; other features only through their public modules.',
      from: { path: '^queues/medcom-acks\\.ts$' },
      to: { path: `^src/${FEATURES}/`, pathNot: ['^src/medcom/', `^src/${FEATURES}/${PUBLIC}`] },
    },
    {
      name: 'only-wiring-imports-queues',
      severity: 'error',
      comment: 'src/ depends on queues/ only through the wiring (server.ts); features never do, so there is no cycle between them.',
      from: { path: '^src/', pathNot: '^src/server\\.ts$' },
      to: { path: '^queues/' },
    },
    {
      name: 'infrastructure-below-features',
      severity: 'error',
      comment:
        'shared, storage, audit, parties, pki, receipts and outbox are used by features, never the other way round (plain types excepted).',
      from: { path: '^src/(shared|storage|audit|parties|pki|receipts|outbox)/' },
      to: {
        path: [`^src/${FEATURES}/`, '^src/(main|server|app|openapi)\\.ts$', '^queues/', '^src/cli/'],
        // a feature's types.ts holds plain types (the receipt carries the deadline clock)
        pathNot: `^src/${FEATURES}/types\\.ts$`,
      },
    },
    {
      name: 'features-not-wiring',
      severity: 'error',
      comment: 'Features do not import the wiring or the CLI.',
      from: { path: `^src/${FEATURES}/` },
      to: { path: ['^src/(main|server|app|openapi)\\.ts$', '^src/cli/'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
      extensions: ['.ts', '.js'],
    },
  },
};
