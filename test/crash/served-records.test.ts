import { describe, expect, it } from 'vitest';
import { encodeRecord } from '../../protocol/message-codec.js';
import { stampRecordCrc, withCrcPlaceholder } from '../../storage/record-crc.js';
import { parseServedRecords, workloadBody } from './served-records.js';

/** A record as FerryMQ stores it: body CRC from the codec, whole-record CRC property stamped. */
function storedRecord(queueOffset: number, id: string, key: string): Buffer {
  const record = encodeRecord({
    queueId: 1,
    flag: 0,
    queueOffset,
    physicalOffset: 1000 + queueOffset,
    sysFlag: 0,
    bornTimestamp: 1,
    bornHost: { ip: '127.0.0.1', port: 1 },
    storeTimestamp: 2,
    storeHost: { ip: '127.0.0.1', port: 9876 },
    reconsumeTimes: 0,
    body: workloadBody(id, key),
    topic: 'crash_t',
    properties: withCrcPlaceholder(`KEYS\u0001${key}\u0002`),
  });
  stampRecordCrc(record, 0, record.length);
  return record;
}

describe('parseServedRecords', () => {
  it('reads the harness id, key and queue offset of each record', () => {
    const body = Buffer.concat([storedRecord(7, 'k-1', 'k'), storedRecord(8, 'k-2', 'k')]);
    expect(parseServedRecords(body)).toEqual([
      { queueOffset: 7, valid: true, id: 'k-1', key: 'k', problem: undefined },
      { queueOffset: 8, valid: true, id: 'k-2', key: 'k', problem: undefined },
    ]);
  });

  it('flags a record whose bytes changed after the CRC was stamped', () => {
    const damaged = storedRecord(3, 'k-1', 'k');
    damaged[30] ^= 0x01; // inside PHYSICALOFFSET: not covered by the body CRC, covered by the record CRC
    const [record] = parseServedRecords(damaged);
    expect(record).toMatchObject({ valid: false, problem: expect.stringMatching(/CRC/) });
  });

  it('flags a torn tail as one invalid record after the whole ones', () => {
    const whole = storedRecord(0, 'k-1', 'k');
    const torn = storedRecord(1, 'k-2', 'k').subarray(0, 40);
    const records = parseServedRecords(Buffer.concat([whole, torn]));
    expect(records.map((r) => r.valid)).toEqual([true, false]);
    expect(records[1].problem).toMatch(/only|bytes/);
  });
});
