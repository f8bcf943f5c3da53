// edgecc_stream_ctrl: part of the edgecc stream library, copied by edgecc into designs whose units run at different
// rates; every design that uses it gets the same text.
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

`default_nettype wire
