/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

import { Gettext } from '@jupyterlab/translation';

import { message, plural, renderMessage, verbatim } from '../model/messages';
import { PipelineEditorModel } from '../model/model';
import { newPipelineContent } from '../pipelineFile';
import { TRANSLATION_DOMAIN } from '../tokens';

/** A real gettext bundle with a small French catalog of model messages. */
function french(): Gettext {
  const bundle = new Gettext({ domain: TRANSLATION_DOMAIN, locale: 'fr' });
  bundle.loadJSON(
    {
      '': {
        language: 'fr',
        domain: TRANSLATION_DOMAIN,
        pluralForms: 'nplurals=2; plural=(n > 1);'
      },
      "Connecting '%1' to '%2' would create a cycle (%3); a pipeline must not loop back on itself.":
        [
          'Relier « %1 » à « %2 » créerait un cycle (%3) ; un pipeline ne doit pas boucler sur lui-même.'
        ],
      "A node cannot depend on itself ('%1').": [
        'Un nœud ne peut pas dépendre de lui-même (« %1 »).'
      ],
      'Delete node': ['Supprimer le nœud', 'Supprimer %1 nœuds'],
      'The file is not valid JSON: %1': [
        "Le fichier n'est pas du JSON valide : %1"
      ],
      'Paste item': ["Coller l'élément", 'Coller %1 éléments']
    },
    TRANSLATION_DOMAIN
  );
  return bundle;
}

function twoNodes(): PipelineEditorModel {
  const model = new PipelineEditorModel({ path: 'p/demo.pipeline' });
  model.fromString(newPipelineContent('demo'));
  model.addFiles(['p/a.py', 'p/b.py'], { x: 0, y: 0 });
  return model;
}

describe('model messages', () => {
  it('render in English without a catalog, plurals included', () => {
    expect(renderMessage(message("'%1' is connected to '%2'.", 'a', 'b'))).toBe(
      "'a' is connected to 'b'."
    );
    expect(renderMessage(plural('Move item', 'Move %1 items', 1))).toBe(
      'Move item'
    );
    expect(renderMessage(plural('Move item', 'Move %1 items', 3))).toBe(
      'Move 3 items'
    );
    // already translated text is left alone, placeholders and all
    expect(renderMessage(verbatim('100%1 sûr'), french())).toBe('100%1 sûr');
  });

  it('translate the refusal of a cycle, naming its path', () => {
    const model = twoNodes();
    const [a, b] = model.nodes.map(n => n.id);
    expect(model.connect(a, b).ok).toBe(true);
    const notices: string[] = [];
    model.notice.connect((_, text) =>
      notices.push(renderMessage(text, french()))
    );

    const refused = model.connect(b, a);
    expect(refused.ok).toBe(false);
    if (refused.ok) {
      return;
    }
    expect(renderMessage(refused.message)).toBe(
      "Connecting 'b.py' to 'a.py' would create a cycle (b.py → a.py → b.py); a pipeline must not loop back on itself."
    );
    expect(notices).toEqual([
      'Relier « b.py » à « a.py » créerait un cycle (b.py → a.py → b.py) ; un pipeline ne doit pas boucler sur lui-même.'
    ]);

    model.connect(a, a);
    expect(notices[1]).toBe(
      'Un nœud ne peut pas dépendre de lui-même (« a.py »).'
    );
    // a message without a translation falls back to English
    model.connect(a, b);
    expect(notices[2]).toBe("'a.py' is already connected to 'b.py'.");
  });

  it('translate undo labels with the right plural form', () => {
    const model = twoNodes();
    const fr = french();
    model.removeItems([model.nodes[0].id]);
    expect(model.undoLabel).toBe('Delete node');
    expect(renderMessage(model.undoMessage!, fr)).toBe('Supprimer le nœud');
    model.undo();
    model.selectAll();
    const fragment = model.copy();
    model.paste(fragment);
    expect(model.undoLabel).toBe('Paste 2 items');
    expect(renderMessage(model.undoMessage!, fr)).toBe('Coller 2 éléments');
    model.removeItems(model.nodes.map(n => n.id));
    expect(renderMessage(model.undoMessage!, fr)).toBe('Supprimer 4 nœuds');

    const labels: string[] = [];
    model.contentChanged.connect((_, change) =>
      labels.push(change.message ? renderMessage(change.message, fr) : '')
    );
    model.undo();
    expect(labels).toEqual(['Supprimer 4 nœuds']);
  });

  it('translate why a file is not a pipeline', () => {
    const model = new PipelineEditorModel({ path: 'x.pipeline' });
    model.fromString('{ nope');
    expect(model.error).toMatch(/^The file is not valid JSON: /);
    expect(renderMessage(model.errorMessage!, french())).toMatch(
      /^Le fichier n'est pas du JSON valide : \S/
    );
    model.fromString('[]');
    expect(model.errorMessage?.id).toBe(
      'The file does not contain a JSON object.'
    );
    model.fromString(newPipelineContent('ok'));
    expect(model.errorMessage).toBeNull();
  });

  it('keep text the UI translated itself when announced', () => {
    const model = twoNodes();
    const notices: string[] = [];
    model.notice.connect((_, text) =>
      notices.push(renderMessage(text, french()))
    );
    model.announce('Pipeline effacé.');
    model.announce(message('There are no nodes to lay out.'));
    expect(notices).toEqual([
      'Pipeline effacé.',
      'There are no nodes to lay out.'
    ]);
  });
});
