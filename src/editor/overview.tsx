/*
 * Copyright (c) mlpipe-lab developers.
 * Distributed under the terms of the Apache License 2.0.
 */

/**
 * The minimap of a large pipeline. React Flow's MiniMap renders and
 * subscribes one component per node: at 500 nodes that was about a third of
 * the CPU time to open a pipeline and a share of every drag frame. Here all
 * nodes are one SVG path built from the model, so the overview follows a
 * dragged node when the drag ends. Click or drag in it to centre the view
 * there; the wheel zooms.
 */

import { Panel, ReactFlowState, useReactFlow, useStore } from '@xyflow/react';
import * as React from 'react';

/** A box in canvas coordinates. */
export interface IBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Props of the overview. */
export interface IOverviewProps {
  /** The boxes of the nodes and comments. */
  boxes: IBox[];
  ariaLabel: string;
  /** Size on screen, px. */
  width: number;
  height: number;
}

const selectTransform = (s: ReactFlowState) => s.transform;
const selectWidth = (s: ReactFlowState) => s.width;
const selectHeight = (s: ReactFlowState) => s.height;

/** The smallest box around all of them. */
function union(boxes: IBox[]): IBox {
  if (!boxes.length) {
    return { x: 0, y: 0, width: 0, height: 0 };
  }
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (const b of boxes) {
    x0 = Math.min(x0, b.x);
    y0 = Math.min(y0, b.y);
    x1 = Math.max(x1, b.x + b.width);
    y1 = Math.max(y1, b.y + b.height);
  }
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

/** A minimap drawing every node as one path. Must be inside `<ReactFlow>`. */
export function PipelineOverview(props: IOverviewProps): JSX.Element {
  const { boxes, width, height } = props;
  const flow = useReactFlow();
  const [tx, ty, zoom] = useStore(selectTransform);
  const paneWidth = useStore(selectWidth);
  const paneHeight = useStore(selectHeight);
  const nodesBox = React.useMemo(() => union(boxes), [boxes]);
  const path = React.useMemo(
    () =>
      boxes
        .map(b => `M${b.x},${b.y}h${b.width}v${b.height}h${-b.width}z`)
        .join(''),
    [boxes]
  );
  const view: IBox = {
    x: -tx / zoom,
    y: -ty / zoom,
    width: paneWidth / zoom,
    height: paneHeight / zoom
  };
  const all = union([nodesBox, view]);
  // canvas units per minimap pixel, with a margin, the content centred
  const scale = Math.max(all.width / width, all.height / height, 1e-6) * 1.05;
  const vw = width * scale;
  const vh = height * scale;
  const x0 = all.x - (vw - all.width) / 2;
  const y0 = all.y - (vh - all.height) / 2;

  const svg = React.useRef<SVGSVGElement>(null);
  const centreAt = (event: React.PointerEvent) => {
    const r = svg.current?.getBoundingClientRect();
    if (!r) {
      return;
    }
    void flow.setCenter(
      x0 + (event.clientX - r.left) * scale,
      y0 + (event.clientY - r.top) * scale,
      { zoom }
    );
  };

  return (
    <Panel
      position="bottom-right"
      className="react-flow__minimap jp-MLPipe-Minimap"
    >
      <svg
        ref={svg}
        width={width}
        height={height}
        viewBox={`${x0} ${y0} ${vw} ${vh}`}
        role="img"
        aria-label={props.ariaLabel}
        className="jp-MLPipe-Overview nowheel nodrag"
        onPointerDown={event => {
          event.currentTarget.setPointerCapture(event.pointerId);
          centreAt(event);
        }}
        onPointerMove={event => {
          if (event.buttons & 1) {
            centreAt(event);
          }
        }}
        onWheel={event =>
          void (event.deltaY < 0 ? flow.zoomIn() : flow.zoomOut())
        }
      >
        <path className="jp-MLPipe-Overview-nodes" d={path} />
        <path
          className="jp-MLPipe-Overview-mask"
          fillRule="evenodd"
          d={`M${x0},${y0}h${vw}v${vh}h${-vw}z M${view.x},${view.y}h${view.width}v${view.height}h${-view.width}z`}
        />
      </svg>
    </Panel>
  );
}
