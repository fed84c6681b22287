import { readFileSync, writeFileSync } from 'node:fs';
// The SDK's historyToJSON / historyFromJSON fail here ("type must be a Type"): npm installs
// a copy of protobufjs 8 under each @temporalio package (the top level holds grpc's 7), and
// the one the JSON helpers use is not the one that built the history types. The generated
// History class converts both ways on its own.
import { temporal } from '@temporalio/proto';

const History = temporal.api.history.v1.History;
export type History = temporal.api.history.v1.IHistory;

/** Writes a history as JSON: int64s and enums as strings, payload bytes in base64. */
export function saveHistory(file: string, history: History) {
  const json = History.toObject(History.fromObject(history), { longs: String, enums: String, bytes: String });
  writeFileSync(file, `${JSON.stringify(json, null, 1)}\n`);
}

export function loadHistory(file: string): History {
  return History.fromObject(JSON.parse(readFileSync(file, 'utf8')));
}
