/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/** The server's own JSON Schemas, for tests of the forms that read them. */

import * as fs from 'fs';
import * as path from 'path';

import type { IJSONObject } from '../model/elyra';

const SCHEMAS = path.join(__dirname, '..', '..', 'mlpipe_lab', 'schemas');

/** A server schema with its `$ref`s inlined, like `GET /mlpipe-lab/schemas/{name}`. */
export function served(name: string, pointer = ''): IJSONObject {
  const docs = new Map<string, IJSONObject>();
  const load = (file: string) => {
    if (!docs.has(file)) {
      docs.set(
        file,
        JSON.parse(fs.readFileSync(path.join(SCHEMAS, file), 'utf-8'))
      );
    }
    return docs.get(file)!;
  };
  const target = (file: string, ptr: string): any =>
    ptr
      .split('/')
      .filter(Boolean)
      .reduce((node: any, part) => node[part], load(file));
  const walk = (node: any, file: string): any => {
    if (Array.isArray(node)) {
      return node.map(n => walk(n, file));
    }
    if (node && typeof node === 'object') {
      if (typeof node.$ref === 'string') {
        const [refFile, ptr] = node.$ref.split('#');
        const doc = refFile || file;
        const { $ref, ...rest } = node;
        void $ref;
        return { ...walk(target(doc, ptr), doc), ...walk(rest, file) };
      }
      return Object.fromEntries(
        Object.entries(node).map(([k, v]) => [k, walk(v, file)])
      );
    }
    return node;
  };
  return walk(target(`${name}.json`, pointer), `${name}.json`);
}
