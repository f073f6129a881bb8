// "MedVLM NIfTI Viewer": opens .nii and .nii.gz files as a read-only custom editor. The host
// decodes the volume once per document (off the editor's UI; inflating runs on the thread
// pool) and sends the slice the page asks for: any plane, any index, as the trainer's grey
// levels and the raw values for display windows. Viewing a file runs nothing, so it also
// works in an untrusted workspace.

import path from 'node:path';
import * as vscode from 'vscode';
import { StreamingNifti } from '../core/niftiStream';
import { sliceImage } from '../core/preview/sampleSource';
import { NiftiError } from '../shared/nifti/header';
import { dispatch, on } from '../shared/protocol/dispatch';
import type { MessageType } from '../shared/protocol/message';
import { envelope } from '../shared/protocol/message';
import { ShowSliceMessage, SliceMessage, ViewerReadyMessage, VolumeErrorMessage, VolumeMessage } from '../shared/protocol/niftiViewer';
import { buildNiftiViewerHtml } from './niftiViewerHtml';
import { createNonce } from './webviewHtml';

export const NIFTI_VIEWER_VIEW_TYPE = 'medvlm.niftiViewer';

class NiftiDocument implements vscode.CustomDocument {
  constructor(
    readonly uri: vscode.Uri,
    readonly volume: Promise<StreamingNifti>,
  ) {}

  dispose(): void {
    // Stop inflating a volume nobody looks at any more.
    void this.volume.then((v) => v.close(), () => undefined);
  }
}

export class NiftiViewerProvider implements vscode.CustomReadonlyEditorProvider<NiftiDocument> {
  static register(extensionUri: vscode.Uri, log: (line: string) => void): vscode.Disposable {
    return vscode.window.registerCustomEditorProvider(NIFTI_VIEWER_VIEW_TYPE, new NiftiViewerProvider(extensionUri, log), {
      webviewOptions: { retainContextWhenHidden: false },
      supportsMultipleEditorsPerDocument: true,
    });
  }

  private constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly log: (line: string) => void,
  ) {}

  openCustomDocument(uri: vscode.Uri): NiftiDocument {
    const volume =
      uri.scheme === 'file' ? StreamingNifti.start(uri.fsPath) : Promise.reject(new NiftiError(`${uri.toString()}: only files on this machine's disk are read`));
    // Failures are shown in the editor; this keeps an early one from counting as unhandled.
    volume.catch(() => undefined);
    return new NiftiDocument(uri, volume);
  }

  resolveCustomEditor(document: NiftiDocument, panel: vscode.WebviewPanel): void {
    const webview = panel.webview;
    webview.options = { enableScripts: true, localResourceRoots: [vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview')] };
    webview.html = buildNiftiViewerHtml({
      cspSource: webview.cspSource,
      scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview', 'niftiViewer.js')).toString(),
      nonce: createNonce(),
      title: path.basename(document.uri.fsPath),
    });
    let disposed = false;
    panel.onDidDispose(() => (disposed = true));
    const post = <T>(message: MessageType<T>, payload: T): void => {
      if (!disposed) void webview.postMessage(envelope(message, payload));
    };
    const fail = (err: unknown): void => {
      if (!(err instanceof NiftiError)) this.log(`NIfTI viewer: ${String(err)}`);
      post(VolumeErrorMessage, { message: err instanceof Error ? err.message : String(err) });
    };
    const routes = [
      on(ViewerReadyMessage, () => {
        document.volume.then(async (volume) => {
          // As soon as the header is in: the first slices follow while the rest inflates.
          const h = await volume.header;
          // A read error surfaces with the first slice asked for.
          volume.done.catch(fail);
          post(VolumeMessage, {
            file: document.uri.fsPath,
            shape: await volume.shape(),
            dtype: h.dtype,
            version: h.version,
            littleEndian: h.littleEndian,
            spacing: [0, 1, 2].map((axis) => h.pixdim[axis] ?? 1) as [number, number, number],
            slope: h.slope,
            inter: h.inter,
          });
        }).catch(fail);
      }),
      on(ShowSliceMessage, ({ dim, index }) => {
        document.volume.then(async (volume) => {
          if (index >= ((await volume.shape())[dim] ?? 0)) return;
          post(SliceMessage, { dim, index, image: await sliceImage(volume, dim, index) });
        }).catch(fail);
      }),
    ];
    webview.onDidReceiveMessage((data: unknown) => {
      const outcome = dispatch(data, routes);
      if (outcome !== 'handled') this.log(`NIfTI viewer: ignored a ${outcome} message from the page`);
    });
  }
}
