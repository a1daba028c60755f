/**
 * CHECK_TRANSACTION_STATE (39), broker → producer, oneway: "what became of this half message?".
 * Header: tranStateTableOffset, commitLogOffset, msgId, transactionId, offsetMsgId; body: the half
 * message as a stored record on its real topic. The producer answers with END_TRANSACTION (37).
 */
import { createRequest, type ExtFieldsInput } from '../../protocol/remoting-command.js';
import { RequestCode } from '../../protocol/request-code.js';
import type { ClientRegistry } from '../client-registry.js';
import type { Connection } from '../connection.js';

/** Sends the check to the first connected producer of `group`; false when none is connected. */
export function sendTransactionCheck(
  connections: ReadonlyMap<number, Connection>,
  clients: ClientRegistry,
  group: string,
  header: ExtFieldsInput,
  body: Buffer,
): boolean {
  for (const producer of clients.producerClients(group)) {
    const connection = connections.get(producer.channel.id);
    if (connection?.send(createRequest(RequestCode.CHECK_TRANSACTION_STATE, header, body, { oneway: true }))) return true;
  }
  return false;
}
