// edgecc stream library: a unit's handshake, a fork, a FIFO. Copied by edgecc into designs whose units run at
// different rates; every design that includes it gets the same text.
`timescale 1ns/1ps
`default_nettype none

// One unit's handshake. With II = 1 the unit is a pipeline of STAGES registers that moves whenever its output
// register is free or being read (adv), taking a new input (or a bubble) each time. With II > 1 the unit is folded:
// it runs II phases on one input while that input is valid (en; phase counts 0 .. II-1), takes the input at the last
// phase and writes its output register then (adv). Only that last phase waits for the output register to be free:
// the others run while it still holds the previous result. out_valid: the output register holds an unread result.
module edgecc_stream_ctrl #(parameter STAGES = 1, parameter II = 1, parameter PW = 1) (
    input  wire clk,
    input  wire rst,
    input  wire in_valid,
    output wire in_ready,
    output wire out_valid,
    input  wire out_ready,
    output wire adv,
    output wire en,
    output wire [PW-1:0] phase
);
    reg [STAGES-1:0] valid;
    wire room = ~valid[STAGES-1] | out_ready;
    generate
        if (II == 1) begin : g_parallel
            assign en = room;
            assign adv = room;
            assign phase = {PW{1'b0}};
        end else begin : g_folded
            /* verilator lint_off WIDTHTRUNC */
            localparam [PW-1:0] LAST = II - 1;
            /* verilator lint_on WIDTHTRUNC */
            reg [PW-1:0] count;
            wire last = count == LAST;
            assign en = in_valid & (room | ~last);
            assign adv = en & last;
            assign phase = count;
            always @(posedge clk) begin
                if (rst) count <= {PW{1'b0}};
                else if (en) count <= adv ? {PW{1'b0}} : count + {{(PW-1){1'b0}}, 1'b1};
            end
        end
        if (STAGES == 1) begin : g_one_stage
            always @(posedge clk) begin
                if (rst) valid <= 1'b0;
                else if (adv) valid <= in_valid;
                else if (out_ready) valid <= 1'b0;
            end
        end else begin : g_stages
            always @(posedge clk) begin
                if (rst) valid <= {STAGES{1'b0}};
                else if (adv) valid <= {valid[STAGES-2:0], in_valid};
                else if (out_ready) valid[STAGES-1] <= 1'b0;
            end
        end
    endgenerate
    assign in_ready = adv;
    assign out_valid = valid[STAGES-1];
endmodule

// One value to N readers: each reader sees it until it has taken it; the writer sees it taken when all have.
module edgecc_fork #(parameter N = 2) (
    input  wire clk,
    input  wire rst,
    input  wire in_valid,
    output wire in_ready,
    output wire [N-1:0] out_valid,
    input  wire [N-1:0] out_ready
);
    reg [N-1:0] taken;
    assign out_valid = {N{in_valid}} & ~taken;
    assign in_ready = &(taken | out_ready);
    always @(posedge clk) begin
        if (rst || (in_valid && in_ready)) taken <= {N{1'b0}};
        else taken <= taken | (out_valid & out_ready);
    end
endmodule

// A first-in first-out buffer of DEPTH entries: a value written in one cycle can be read from the next.
module edgecc_fifo #(parameter WIDTH = 8, parameter DEPTH = 2, parameter AW = 1) (
    input  wire clk,
    input  wire rst,
    input  wire in_valid,
    output wire in_ready,
    input  wire [WIDTH-1:0] in_data,
    output wire out_valid,
    input  wire out_ready,
    output wire [WIDTH-1:0] out_data
);
    /* verilator lint_off WIDTHTRUNC */
    /* verilator lint_off WIDTHEXPAND */
    localparam [AW:0] FULL = DEPTH;
    localparam [AW-1:0] LAST = DEPTH - 1;
    /* verilator lint_on WIDTHEXPAND */
    /* verilator lint_on WIDTHTRUNC */
    reg [WIDTH-1:0] mem [0:DEPTH-1];
    reg [AW-1:0] wr_at;
    reg [AW-1:0] rd_at;
    reg [AW:0] count;
    wire push = in_valid & in_ready;
    wire pop = out_valid & out_ready;
    assign in_ready = count != FULL;
    assign out_valid = count != {(AW+1){1'b0}};
    assign out_data = mem[rd_at];
    always @(posedge clk) begin
        if (rst) begin
            wr_at <= {AW{1'b0}};
            rd_at <= {AW{1'b0}};
            count <= {(AW+1){1'b0}};
        end else begin
            if (push) wr_at <= (wr_at == LAST) ? {AW{1'b0}} : wr_at + {{(AW-1){1'b0}}, 1'b1};
            if (pop) rd_at <= (rd_at == LAST) ? {AW{1'b0}} : rd_at + {{(AW-1){1'b0}}, 1'b1};
            if (push && !pop) count <= count + {{AW{1'b0}}, 1'b1};
            else if (pop && !push) count <= count - {{AW{1'b0}}, 1'b1};
        end
    end
    always @(posedge clk) if (push) mem[wr_at] <= in_data;
endmodule

`default_nettype wire
