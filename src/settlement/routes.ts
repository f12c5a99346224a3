/** Settlement statements (§17–19, §28, S§4), the §18 stk. 2 price cap, and the agreements (§16, §25). */
import { Router, type Response } from 'express';
import { z } from 'zod';
import { named, operation, route } from '../shared/api.js';
import { problemSchema } from '../receipts/schema.js';
import { toCsv, wantsCsv } from '../shared/csv.js';
import type { SettlementService, Statement } from './service.js';
import {
  agreementListSchema,
  agreementViewSchema,
  closeParams,
  priceCapQuerySchema,
  priceCapSchema,
  settlementQuerySchema,
  statementListSchema,
  statementSchema,
} from './schema.js';

const Problem = named('Problem', problemSchema);
const problem = (description: string) => ({ description, body: Problem });
const csvContent = { 'text/csv': { schema: { type: 'string' } } };

export const operations = {
  statements: operation({
    method: 'get',
    path: '/v1/settlements',
    summary: 'The settlement statements of a month, per payer (finance, team leads; a municipality or Seniorpensionsenheden its own)',
    description:
      'Amounts in øre, rounded half up. The payer is whoever requested the service (§28). With `payer` (or for a paying party) the answer ' +
      'is that payer’s statement; without, every payer’s. `Accept: text/csv` or `format=csv` gives the same lines as CSV.',
    query: settlementQuerySchema,
    responses: {
      '200': {
        description: 'The statement (with payer, or for a paying party) or the month’s statements; or CSV',
        body: named('SettlementStatements', z.union([statementSchema, statementListSchema])),
        content: csvContent,
      },
      '422': problem('The month or payer is malformed'),
      '403': problem('Not finance, a team lead, or the payer itself'),
    },
  }),
  close: operation({
    method: 'post',
    path: '/v1/settlements/{month}/close',
    summary: 'Close a month: its statements are stored as they are, and their hashes go into the audit chain (finance, team leads)',
    description:
      'A month closes after its last day, and months close in order. A later change (a price corrected, a delivery no longer on record) ' +
      'becomes an adjustment line in the next open month; a closed statement is never rewritten.',
    params: closeParams,
    responses: {
      '200': { description: 'The closed statements', body: named('SettlementStatementList', statementListSchema) },
      '422': problem('The month is malformed'),
      '403': problem('Not finance or a team lead'),
      '409': problem('The month has not ended, is already closed, or an earlier month is still open'),
    },
  }),
  priceCap: operation({
    method: 'get',
    path: '/v1/settlements/price-cap',
    summary: '§18 stk. 2: the average price per assessed case in a year, per payer, against DKK 14 000 at 2011 level indexed',
    query: priceCapQuerySchema,
    responses: {
      '200': { description: 'One row per payer', body: named('PriceCap', priceCapSchema) },
      '422': problem('The year is malformed'),
      '403': problem('Not finance, a team lead, or the payer itself'),
    },
  }),
  agreements: operation({
    method: 'get',
    path: '/v1/agreements',
    summary: 'The cooperation agreements (finance and team leads all; a municipality or Seniorpensionsenheden its own)',
    responses: { '200': { description: 'Agreements', body: named('AgreementList', agreementListSchema) } },
  }),
  agreement: operation({
    method: 'get',
    path: '/v1/agreements/{agreementId}',
    summary: 'One cooperation agreement (§16 stk. 2), with the earliest end for a notice given today (§25 stk. 2)',
    params: { agreementId: 'the agreement id' },
    responses: {
      '200': { description: 'The agreement', body: named('Agreement', agreementViewSchema) },
      '404': problem('No such agreement visible to the caller'),
    },
  }),
};

const CSV_HEADER = [
  'month',
  'payer',
  'payerName',
  'kind',
  'caseId',
  'service',
  'deliveredAt',
  'amountOre',
  'basis',
  'invoiceDate',
  'dueDate',
  'closed',
];

/** One CSV row per line; a statement without lines is one row of its own, so its dates still reach the finance system. */
export function statementsCsv(statements: readonly Statement[]): string {
  const rows = statements.flatMap((s) => {
    const tail = [s.invoiceDate, s.dueDate, s.closed];
    if (s.lines.length === 0) return [[s.month, s.payer, s.payerName, '', '', '', '', 0, 'no lines this month', ...tail]];
    return s.lines.map((l) => [s.month, s.payer, s.payerName, l.kind, l.caseId, l.service, l.deliveredAt, l.amountOre, l.basis, ...tail]);
  });
  return toCsv(CSV_HEADER, rows);
}

function sendCsv(res: Response, name: string, body: string): void {
  res.type('text/csv; charset=utf-8').attachment(name).send(body);
}

export function createSettlementRouter(deps: { settlement: SettlementService }): Router {
  const router = Router();
  route(router, operations.statements, [], async (req, res) => {
    const { month, payer } = req.query;
    const list = await deps.settlement.statements(req.party!, month, payer);
    const single = payer !== undefined || req.party!.kind === 'municipality' || req.party!.kind === 'senior-pension-unit';
    if (wantsCsv(req)) return sendCsv(res, `afregning-${month}${single ? `-${list[0]!.payer}` : ''}.csv`, statementsCsv(list));
    if (single) return res.json(list[0]);
    res.json({ month, closed: await deps.settlement.isClosed(month), statements: list });
  });
  route(router, operations.close, [], async (req, res) => {
    const month = req.params.month!;
    const statements = await deps.settlement.close(req.party!, month);
    res.json({ month, closed: true, statements });
  });
  route(router, operations.priceCap, [], async (req, res) => {
    res.json({ year: req.query.year, rows: await deps.settlement.priceCap(req.party!, req.query.year, req.query.payer) });
  });
  route(router, operations.agreements, [], (req, res) => {
    res.json({ items: deps.settlement.agreements(req.party!) });
  });
  route(router, operations.agreement, [], (req, res) => {
    res.json(deps.settlement.agreement(req.party!, req.params.agreementId!));
  });
  return router;
}
