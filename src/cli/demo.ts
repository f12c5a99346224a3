/**
 * A valid demonstration case package for `send --demo`: a manifest for a
 * municipality (rehab-team-advice, ressourceforloeb) with a fictitious
 * citizen, and one small generated PDF as the preparatory rehab plan, so
 * the case is complete and its clock starts.
 */
import { randomInt, randomUUID } from 'node:crypto';

export interface DemoPackage {
  manifest: Record<string, unknown>;
  /** The manifest as sent (pretty-printed JSON, UTF-8). */
  manifestBytes: Buffer;
  /** File parts in manifest order. */
  files: Array<{ part: string; filename: string; mediaType: string; body: Buffer }>;
}

/**
 * A minimal, well-formed one-page PDF 1.4 showing `text`: header, catalog,
 * pages, page, font, content stream, a cross-reference table with correct
 * byte offsets, trailer and `%%EOF`.
 */
export function demoPdf(text: string): Buffer {
  const safe = text.replace(/[^\x20-\x7e]/g, '?').replace(/([\\()])/g, '\\$1');
  const content = `BT /F1 14 Tf 72 770 Td (${safe}) Tj ET\n`;
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>',
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
    `<< /Length ${Buffer.byteLength(content, 'latin1')} >>\nstream\n${content}endstream`,
  ];
  // The binary comment on line 2 tells tools the file holds binary data.
  let pdf = '%PDF-1.4\n%\xe2\xe3\xcf\xd3\n';
  const offsets: number[] = [];
  objects.forEach((body, i) => {
    offsets.push(Buffer.byteLength(pdf, 'latin1'));
    pdf += `${i + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xref = Buffer.byteLength(pdf, 'latin1');
  pdf += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const o of offsets) pdf += `${String(o).padStart(10, '0')} 00000 n \n`;
  pdf += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(pdf, 'latin1');
}

/**
 * A fictitious CPR number whose date part is a real date (born 1960–1989,
 * 7th digit 0–3 = 1900s). Modulus 11 is not required (RULES.md).
 */
export function demoCpr(): string {
  const year = 1960 + randomInt(30);
  const month = 1 + randomInt(12);
  const day = 1 + randomInt(new Date(Date.UTC(year, month, 0)).getUTCDate());
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${pad(day)}${pad(month)}${pad(year % 100)}${randomInt(4)}${pad(randomInt(1000), 3)}`;
}

export function buildDemoPackage(opts: { packageId?: string } = {}): DemoPackage {
  const packageId = opts.packageId ?? randomUUID();
  const pdf = demoPdf(`Postkasse demo - rehabiliteringsplan, forberedende del - ${packageId}`);
  const manifest = {
    packageId,
    service: 'rehab-team-advice',
    caseType: 'ressourceforloeb',
    citizen: { cpr: demoCpr(), name: 'Demo Testborger (fiktiv)' },
    gp: { ydernummer: '057584', name: 'Lægehuset Demo (fiktiv)' },
    caseworker: { name: 'Demo Sagsbehandler', email: 'demo.sagsbehandler@example.invalid' },
    consents: [{ kind: 'municipality-agreement-citizen-contact', givenBy: 'Demo Sagsbehandler', date: '2026-01-05', how: 'oral' }],
    documents: [
      {
        part: 'plan',
        type: 'rehab-plan-preparatory',
        title: 'Rehabiliteringsplan, forberedende del (demo)',
        mediaType: 'application/pdf',
      },
    ],
  };
  return {
    manifest,
    manifestBytes: Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`, 'utf8'),
    files: [{ part: 'plan', filename: 'plan.pdf', mediaType: 'application/pdf', body: pdf }],
  };
}
