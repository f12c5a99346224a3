// Minimal types for busboy (installed with multer; @types/busboy is not a dependency).
declare module 'busboy' {
  import type { Readable, Writable } from 'node:stream';
  import type { IncomingHttpHeaders } from 'node:http';

  namespace busboy {
    interface Config {
      headers: IncomingHttpHeaders;
      defParamCharset?: string;
      preservePath?: boolean;
      limits?: Partial<Record<'fieldNameSize' | 'fieldSize' | 'fields' | 'fileSize' | 'files' | 'parts' | 'headerPairs', number>>;
    }
    interface FileInfo {
      filename: string | undefined;
      encoding: string;
      mimeType: string;
    }
    interface FieldInfo {
      nameTruncated: boolean;
      valueTruncated: boolean;
      encoding: string;
      mimeType: string;
    }
    interface Busboy extends Writable {
      on(event: 'file', listener: (name: string, stream: Readable, info: FileInfo) => void): this;
      on(event: 'field', listener: (name: string, value: string, info: FieldInfo) => void): this;
      on(event: 'close' | 'finish', listener: () => void): this;
      on(event: 'error', listener: (err: Error) => void): this;
      on(event: string, listener: (...args: unknown[]) => void): this;
    }
  }
  function busboy(config: busboy.Config): busboy.Busboy;
  export default busboy;
}
