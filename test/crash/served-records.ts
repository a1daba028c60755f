/**
 * Splits a PULL answer's body (stored records back to back) into the harness's view of each record:
 * its queue offset, whether it validates (magic, lengths, body CRC, and FerryMQ's whole-record CRC
 * property), and the message id and key the harness wrote in its body.
 */
import { scanRecords } from '../../protocol/message-codec.js';
import { verifyRecordCrc } from '../../storage/record-crc.js';

export interface ServedRecord {
  queueOffset: number;
  valid: boolean;
  id: string | undefined;
  key: string | undefined;
  /** Why the record is invalid. */
  problem?: string;
}

/** The body the harness sends: `{"id":…,"key":…}`. */
export function workloadBody(id: string, key: string): Buffer {
  return Buffer.from(JSON.stringify({ id, key }), 'utf8');
}

/** The id and key the harness wrote in a message body (undefined for a foreign message). */
export function harnessFields(body: Buffer): { id?: string; key?: string } {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { id?: unknown; key?: unknown };
    return {
      id: typeof parsed.id === 'string' ? parsed.id : undefined,
      key: typeof parsed.key === 'string' ? parsed.key : undefined,
    };
  } catch {
    return {};
  }
}

/** Parses every record; bytes after the first invalid one cannot be framed and are reported as one record. */
export function parseServedRecords(body: Buffer): ServedRecord[] {
  const scan = scanRecords(body);
  const records: ServedRecord[] = [];
  let at = 0;
  for (const record of scan.records) {
    const fields = harnessFields(record.body);
    const crcOk = verifyRecordCrc(body, at, record.totalSize);
    records.push({
      queueOffset: record.queueOffset,
      valid: crcOk,
      id: fields.id,
      key: fields.key,
      problem: crcOk ? undefined : 'whole-record CRC property missing or wrong',
    });
    at += record.totalSize;
  }
  if (scan.trailing) {
    records.push({ queueOffset: -1, valid: false, id: undefined, key: undefined, problem: scan.trailing.reason });
  }
  return records;
}
